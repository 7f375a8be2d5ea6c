// What the console server tells the browser (iogrid console: /config.json).
export type Template = { name: string; description: string; sha256: string };

export type ConsoleConfig = {
  rpcUrl: string;
  wsUrl: string;
  programId: string;
  chain: `solana:${string}`;
  keeperUrl: string;
  templates: Template[];
};

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('/config.json');
  if (!response.ok) {
    throw new Error(`The console server did not give its configuration (HTTP ${response.status}).`);
  }
  return (await response.json()) as ConsoleConfig;
}
