// A closed job's receipt, from the events of the transaction that closed it:
// what each supplier was paid, the fee, the burn and the refund.
import { signature as toSignature, type Address, type Rpc, type SolanaRpcApi } from '@solana/kit';
import { eventsInLogs, JOB_OUTCOME, type JobClosed, type JobPayment } from './program';

export type Receipt = {
  outcome: (typeof JOB_OUTCOME)[number];
  closed: JobClosed;
  payments: JobPayment[];
  signature: string;
  /** Earlier payments (faulted assignments) are in other transactions; their gross is in closed.paidOut. */
};

export async function findReceipt(rpc: Rpc<SolanaRpcApi>, job: Address): Promise<Receipt | null> {
  const signatures = await rpc.getSignaturesForAddress(job, { limit: 50, commitment: 'confirmed' }).send();
  for (const { signature, err } of signatures) {
    if (err) continue;
    const tx = await rpc
      .getTransaction(toSignature(signature), { maxSupportedTransactionVersion: 0, commitment: 'confirmed', encoding: 'json' })
      .send();
    const events = eventsInLogs(tx?.meta?.logMessages ?? []);
    const closed = events.find((e) => e.kind === 'JobClosed' && e.event.job === job);
    if (!closed || closed.kind !== 'JobClosed') continue;
    const payments = events.flatMap((e) => (e.kind === 'JobPayment' && e.event.job === job ? [e.event] : []));
    return { outcome: JOB_OUTCOME[closed.event.outcome] ?? 'Settled', closed: closed.event, payments, signature };
  }
  return null;
}
