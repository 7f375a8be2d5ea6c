// IO amounts, prices and fixed-width ASCII fields as the program stores them.

export const IO = 1_000_000n;
export const SECS_PER_HOUR = 3600n;

/** Base units as IO, up to 6 decimals, without trailing zeros. */
export function formatIo(baseUnits: bigint): string {
  const negative = baseUnits < 0n;
  const abs = negative ? -baseUnits : baseUnits;
  const whole = (abs / IO).toLocaleString('en-US');
  const fraction = (abs % IO).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '−' : ''}${whole}${fraction ? `.${fraction}` : ''} IO`;
}

/** "2.5" IO as base units; null when it is not a non-negative amount. */
export function parseIo(text: string): bigint | null {
  const match = /^\s*(\d{1,12})(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!match) return null;
  return BigInt(match[1]) * IO + BigInt((match[2] ?? '').padEnd(6, '0'));
}

/** The escrow a job needs: price × GPUs × seconds / 3600, rounded up (rules::pay::escrow_for). */
export function escrowFor(pricePerGpuHour: bigint, gpus: number, secs: bigint): bigint {
  const numerator = pricePerGpuHour * BigInt(gpus) * secs;
  return (numerator + SECS_PER_HOUR - 1n) / SECS_PER_HOUR;
}

/** Basis points of an amount, rounded down (the program's fee and burn). */
export function bpsOf(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps)) / 10_000n;
}

/** A zero-padded ASCII field as text. */
export function asciiText(bytes: ReadonlyUint8Array | Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return String.fromCharCode(...bytes.slice(0, end));
}

/** Text as a zero-padded ASCII field of `size` bytes; null if it does not fit. */
export function asciiField(text: string, size: number): Uint8Array | null {
  if (text.length > size || !/^[\x20-\x7e]*$/.test(text)) return null;
  const field = new Uint8Array(size);
  for (let i = 0; i < text.length; i++) field[i] = text.charCodeAt(i);
  return field;
}

type ReadonlyUint8Array = Omit<Uint8Array, 'set' | 'fill' | 'copyWithin' | 'reverse' | 'sort'>;

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function duration(secs: number): string {
  if (secs < 0) return '0 s';
  if (secs < 120) return `${Math.round(secs)} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  if (secs < 172_800) return `${(secs / 3600).toFixed(1)} h`;
  return `${(secs / 86_400).toFixed(1)} days`;
}

export function shortAddress(address: string): string {
  return `${address.slice(0, 4)}…${address.slice(-4)}`;
}
