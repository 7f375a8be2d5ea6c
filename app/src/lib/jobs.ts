// Creating a job from the browser: the workload it commits to, a job id
// whose PDAs are cheap to verify, and the jobs this browser deployed
// (so their receipts can be found after the job account closes).
import { getBase58Decoder, type Address, type Rpc, type SolanaRpcApi } from '@solana/kit';
import { findEscrowPda, findJobPda } from '../../client/src/generated';
import type { ConsoleConfig } from './config';
import { hex } from './units';

export type Workload = { uri: string; hash: Uint8Array };

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
}

/** A URI that is its own workload (sim:…, cmd:…): committed to by its own hash. */
export async function workloadOfUri(uri: string): Promise<Workload> {
  return { uri, hash: await sha256(new TextEncoder().encode(uri)) };
}

/** A template's spec, hashed here and stored by the keeper under that hash
 * (workers fetch it from there and check the hash against the job). */
export async function uploadTemplate(config: ConsoleConfig, name: string): Promise<Workload> {
  const spec = await fetch(`/templates/${encodeURIComponent(name)}.json`);
  if (!spec.ok) throw new Error(`The console has no template "${name}".`);
  const bytes = new Uint8Array(await spec.arrayBuffer());
  const hash = await sha256(bytes);
  let stored: Response;
  try {
    stored = await fetch(`${config.keeperUrl}/v1/specs`, { method: 'PUT', body: bytes as BodyInit });
  } catch {
    throw new Error(`The keeper at ${config.keeperUrl} could not be reached to store the workload spec.`);
  }
  const body = (await stored.json().catch(() => ({}))) as { sha256?: string; error?: string };
  if (!stored.ok) throw new Error(`The keeper refused the workload spec: ${body.error ?? `HTTP ${stored.status}`}.`);
  if (body.sha256 !== hex(hash)) throw new Error('The keeper stored the workload spec under another hash.');
  return { uri: `spec:${name}`.slice(0, 64), hash };
}

/** The first id at or above now (ms) whose job PDA and escrow both have bump
 * 255 and that this owner has not used (sdk::pda::fast_job_id). */
export async function freshJobId(rpc: Rpc<SolanaRpcApi>, owner: Address): Promise<{ id: bigint; job: Address }> {
  let id = BigInt(Date.now());
  for (let tries = 0; tries < 256; tries++, id++) {
    const [job, bump] = await findJobPda({ owner, id });
    if (bump !== 255) continue;
    const [, escrowBump] = await findEscrowPda({ job });
    if (escrowBump !== 255) continue;
    const { value } = await rpc.getAccountInfo(job, { encoding: 'base64' }).send();
    if (!value) return { id, job };
  }
  throw new Error('No free job id found; try again.');
}

const DEPLOYED_KEY = 'iogrid:deployed-jobs';

/** Jobs this browser deployed, per owner: receipts stay findable after settlement. */
export function rememberJob(owner: Address, job: Address) {
  const all = JSON.parse(localStorage.getItem(DEPLOYED_KEY) ?? '{}') as Record<string, string[]>;
  all[owner] = [...new Set([job, ...(all[owner] ?? [])])].slice(0, 200);
  localStorage.setItem(DEPLOYED_KEY, JSON.stringify(all));
}

export function rememberedJobs(owner: Address): Address[] {
  const all = JSON.parse(localStorage.getItem(DEPLOYED_KEY) ?? '{}') as Record<string, string[]>;
  return (all[owner] ?? []) as Address[];
}

export function base58(bytes: Uint8Array): string {
  return getBase58Decoder().decode(bytes);
}
