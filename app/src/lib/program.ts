// The program's accounts as the console reads them: the generated codecs,
// plus what an IDL cannot describe (a job's assignments after its header,
// the events in transaction logs).
import {
  getAddressDecoder,
  getBase64Encoder,
  getStructDecoder,
  getU64Decoder,
  getU8Decoder,
  getU64Encoder,
  getProgramDerivedAddress,
  fixDecoderSize,
  getBytesDecoder,
  type Address,
  type Decoder,
} from '@solana/kit';
import {
  getAssignmentDecoder,
  getGpuListingDecoder,
  getJobDecoder,
  getConfigDecoder,
  JOB_DISCRIMINATOR,
  GPU_LISTING_DISCRIMINATOR,
  IOGRID_PROGRAM_ADDRESS,
  type Assignment,
  type GpuListing,
  type Job,
  type Config,
} from '../../client/src/generated';

export { JOB_DISCRIMINATOR, GPU_LISTING_DISCRIMINATOR };
export type { Assignment, GpuListing, Job, Config };

export const JOB_STATUS = ['Open', 'Running', 'Proven', 'Approved', 'Disputed', 'Resolved'] as const;
export type JobStatusName = (typeof JOB_STATUS)[number] | 'Settled' | 'Expired' | 'Cancelled';
export const LISTING_STATUS = ['Available', 'Busy', 'Offline'] as const;
export const ASSIGNMENT_STATUS = ['Active', 'Proven', 'Faulted', 'Stopped'] as const;

export function base64Bytes(data: string): Uint8Array {
  return new Uint8Array(getBase64Encoder().encode(data));
}

export function decodeConfig(data: Uint8Array): Config {
  return getConfigDecoder().decode(data);
}

export function decodeListing(data: Uint8Array): GpuListing {
  return getGpuListingDecoder().decode(data);
}

/** A job account: its header, then a u32 count and the assignments
 * (Anchor v2's Slab<Job, Assignment>; sdk::accounts::JobAccount). */
export type JobAccount = { job: Job; assignments: Assignment[] };

export function decodeJob(data: Uint8Array): JobAccount {
  const decoder = getJobDecoder();
  const job = decoder.decode(data);
  const lenOffset = decoder.fixedSize;
  const itemsOffset = Math.ceil((lenOffset + 4) / 8) * 8;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = data.length >= lenOffset + 4 ? view.getUint32(lenOffset, true) : 0;
  const assignment = getAssignmentDecoder();
  const size = assignment.fixedSize;
  const capacity = Math.max(0, Math.floor((data.length - itemsOffset) / size));
  const assignments: Assignment[] = [];
  for (let i = 0; i < Math.min(len, capacity); i++) {
    assignments.push(assignment.decode(data, itemsOffset + i * size));
  }
  return { job, assignments };
}

/** GPUs of a listing's spec, free and priced, as the marketplace shows them. */
export function listingIsStale(listing: GpuListing, now: number, timeoutSecs: number): boolean {
  return now - Number(listing.lastHeartbeat) > timeoutSecs;
}

// --- events (Anchor `emit!`: "Program data: base64(discriminator ‖ bytes)")

const JOB_PAYMENT = new Uint8Array([208, 15, 81, 157, 59, 244, 230, 79]);
const JOB_CLOSED = new Uint8Array([123, 63, 243, 153, 174, 212, 2, 55]);

export type JobPayment = {
  job: Address;
  listing: Address;
  payee: Address;
  gross: bigint;
  net: bigint;
  fee: bigint;
  burned: bigint;
};
export type JobClosed = {
  job: Address;
  deposit: bigint;
  compensation: bigint;
  paidOut: bigint;
  refund: bigint;
  outcome: number;
};

const jobPaymentDecoder: Decoder<JobPayment> = getStructDecoder([
  ['job', getAddressDecoder()],
  ['listing', getAddressDecoder()],
  ['payee', getAddressDecoder()],
  ['gross', getU64Decoder()],
  ['net', getU64Decoder()],
  ['fee', getU64Decoder()],
  ['burned', getU64Decoder()],
]);
const jobClosedDecoder: Decoder<JobClosed & { padding: unknown }> = getStructDecoder([
  ['job', getAddressDecoder()],
  ['deposit', getU64Decoder()],
  ['compensation', getU64Decoder()],
  ['paidOut', getU64Decoder()],
  ['refund', getU64Decoder()],
  ['outcome', getU8Decoder()],
  ['padding', fixDecoderSize(getBytesDecoder(), 7)],
]);

export type ProgramEvent =
  | { kind: 'JobPayment'; event: JobPayment }
  | { kind: 'JobClosed'; event: JobClosed };

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/** The job events among a transaction's log lines. */
export function eventsInLogs(logs: readonly string[]): ProgramEvent[] {
  const events: ProgramEvent[] = [];
  for (const line of logs) {
    if (!line.startsWith('Program data: ')) continue;
    const bytes = base64Bytes(line.slice('Program data: '.length).trim());
    const body = bytes.subarray(8);
    if (startsWith(bytes, JOB_PAYMENT) && body.length >= 128) {
      events.push({ kind: 'JobPayment', event: jobPaymentDecoder.decode(body) });
    } else if (startsWith(bytes, JOB_CLOSED) && body.length >= 72) {
      const { job, deposit, compensation, paidOut, refund, outcome } = jobClosedDecoder.decode(body);
      events.push({ kind: 'JobClosed', event: { job, deposit, compensation, paidOut, refund, outcome } });
    }
  }
  return events;
}

export const JOB_OUTCOME = ['Settled', 'Expired', 'Cancelled'] as const;

/** A proposal's address: `["proposal", id]` (the id is Config.proposal_count
 * when it is created, which the IDL cannot express as a seed). */
export async function findProposalAddress(id: bigint): Promise<Address> {
  const [pda] = await getProgramDerivedAddress({
    programAddress: IOGRID_PROGRAM_ADDRESS,
    seeds: [new TextEncoder().encode('proposal'), getU64Encoder().encode(id)],
  });
  return pda;
}

/** The governance PDA `["governance"]`: it signs what passed proposals do,
 * and stands in as the recipient of actions that name none. */
export async function findGovernanceAddress(): Promise<Address> {
  const [pda] = await getProgramDerivedAddress({
    programAddress: IOGRID_PROGRAM_ADDRESS,
    seeds: [new TextEncoder().encode('governance')],
  });
  return pda;
}
