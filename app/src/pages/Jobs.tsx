// My jobs, and one job live: status from its account over the websocket,
// the suppliers assigned, the keeper's reason while it waits, approve or
// dispute in the challenge window, and the receipt once it closes.
import { useEffect, useState } from 'react';
import { address as toAddress, type Address } from '@solana/kit';
import { getApproveJobInstruction, getDisputeJobInstruction } from '../../client/src/generated';
import { useChain } from '../lib/chain';
import { useSigner } from '../lib/wallet';
import { useAccount, useNow } from '../hooks/accounts';
import { useJobs } from '../hooks/market';
import { useSender } from '../hooks/send';
import { ASSIGNMENT_STATUS, decodeJob, JOB_STATUS, type JobAccount } from '../lib/program';
import { findReceipt, type Receipt } from '../lib/receipt';
import { rememberedJobs } from '../lib/jobs';
import { asciiText, duration, formatIo, shortAddress } from '../lib/units';
import { Loading, Problem, TransactionProgress } from '../components';

export function MyJobs() {
  const signer = useSigner();
  const jobs = useJobs(signer?.address ?? null);
  if (!signer) return <p className="muted">Connect a wallet to see your jobs.</p>;
  const live = [...jobs.data].sort(([, a], [, b]) => Number(b.job.createdAt - a.job.createdAt));
  const closed = rememberedJobs(signer.address).filter((job) => !jobs.data.has(job));
  return (
    <section>
      <h1>My jobs</h1>
      {jobs.error && <Problem>{jobs.error}</Problem>}
      {jobs.loading ? (
        <Loading what="your jobs" />
      ) : (
        <table data-testid="my-jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>Status</th>
              <th>GPUs</th>
              <th>Model</th>
              <th>Escrowed</th>
            </tr>
          </thead>
          <tbody>
            {live.map(([address, { job }]) => (
              <tr key={address}>
                <td>
                  <a href={`#/jobs/${address}`}>{shortAddress(address)}</a>
                </td>
                <td>{JOB_STATUS[job.status]}</td>
                <td>
                  {job.gpusAssigned} / {job.gpus}
                </td>
                <td>{asciiText(job.gpuModel) || 'any'}</td>
                <td>{formatIo(job.deposit)}</td>
              </tr>
            ))}
            {closed.map((address) => (
              <tr key={address}>
                <td>
                  <a href={`#/jobs/${address}`}>{shortAddress(address)}</a>
                </td>
                <td>closed (receipt)</td>
                <td colSpan={3} />
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!jobs.loading && live.length + closed.length === 0 && (
        <p className="muted">
          No jobs yet: <a href="#/deploy">deploy one</a>.
        </p>
      )}
    </section>
  );
}

function parseAddress(text: string): Address | null {
  try {
    return toAddress(text);
  } catch {
    return null;
  }
}

export function JobPage({ address: text }: { address: string }) {
  const address = parseAddress(text);
  if (!address) return <Problem>"{text}" is not a job address.</Problem>;
  return <JobView address={address} />;
}

function JobView({ address }: { address: Address }) {
  const account = useAccount(address, decodeJob);
  if (account.loading) return <Loading what="the job" />;
  if (account.error) return <Problem>{account.error}</Problem>;
  return (
    <section>
      <h1>
        Job <code>{shortAddress(address)}</code>
      </h1>
      {account.data ? <LiveJob address={address} account={account.data} /> : <ClosedJob address={address} />}
    </section>
  );
}

const TIMELINE = ['Open', 'Running', 'Proven', 'Settled'] as const;

function Timeline({ current }: { current: string }) {
  const reached = TIMELINE.indexOf(current as (typeof TIMELINE)[number]);
  return (
    <ol className="timeline">
      {TIMELINE.map((step, i) => (
        <li key={step} className={i <= reached ? 'done' : ''}>
          {step}
        </li>
      ))}
    </ol>
  );
}

function LiveJob({ address, account }: { address: Address; account: JobAccount }) {
  const { job } = account;
  const status = JOB_STATUS[job.status] ?? `status ${job.status}`;
  const now = useNow();
  const windowEnds = Number(job.provenAt) + job.terms.challengeWindowSecs;
  return (
    <>
      <p>
        Status: <strong data-testid="job-status">{status}</strong>
      </p>
      <Timeline current={status === 'Approved' ? 'Proven' : status} />
      <dl className="facts">
        <dt>GPUs</dt>
        <dd>
          {job.gpusAssigned} of {job.gpus} assigned ({asciiText(job.gpuModel) || 'any model'}
          {asciiText(job.region) ? `, ${asciiText(job.region)}` : ''})
        </dd>
        <dt>Escrowed</dt>
        <dd>{formatIo(job.deposit)}</dd>
        <dt>Max price</dt>
        <dd>{formatIo(job.maxPricePerGpuHour)} per GPU-hour</dd>
        <dt>Duration</dt>
        <dd>
          {duration(Number(job.durationSecs))}
          {job.startedAt > 0n && `, ends in ${duration(Number(job.startedAt + job.durationSecs) - now)}`}
        </dd>
        <dt>Workload</dt>
        <dd>
          <code>{asciiText(job.workloadUri)}</code>
        </dd>
        {status === 'Proven' && (
          <>
            <dt>Challenge window</dt>
            <dd>{now < windowEnds ? `open for ${duration(windowEnds - now)}` : 'closed: settlement is due'}</dd>
          </>
        )}
      </dl>
      {status === 'Open' && <KeeperReason job={address} />}
      <Assignments account={account} />
      {status === 'Proven' && now < windowEnds && <OwnerActions address={address} owner={job.owner} />}
    </>
  );
}

function Assignments({ account }: { account: JobAccount }) {
  if (account.assignments.length === 0) return null;
  return (
    <table data-testid="assignments">
      <thead>
        <tr>
          <th>Supplier</th>
          <th>Listing</th>
          <th>GPUs</th>
          <th>Price / GPU-h</th>
          <th>Status</th>
          <th>GPU-seconds proven</th>
        </tr>
      </thead>
      <tbody>
        {account.assignments.map((a) => (
          <tr key={`${a.listing}-${a.nonce}`}>
            <td title={a.supplier}>{shortAddress(a.supplier)}</td>
            <td title={a.listing}>{shortAddress(a.listing)}</td>
            <td>{a.gpus}</td>
            <td>{formatIo(a.pricePerGpuHour)}</td>
            <td>{ASSIGNMENT_STATUS[a.status]}</td>
            <td>{a.gpuSeconds.toString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** While a job waits, the keeper says why no listings fit it. */
function KeeperReason({ job }: { job: Address }) {
  const { config } = useChain();
  const [reason, setReason] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const response = await fetch(`${config.keeperUrl}/v1/jobs/${job}`);
        const body = (await response.json()) as { waiting_reason?: string | null; waiting_secs?: number | null };
        if (!stop) setReason(body.waiting_reason ? `${body.waiting_reason} (waiting ${body.waiting_secs ?? 0} s)` : null);
      } catch {
        if (!stop) setReason(null);
      }
    };
    poll();
    const timer = setInterval(poll, 2000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [config.keeperUrl, job]);
  return <p className="warn">{reason ? `The keeper: ${reason}` : 'Waiting for the keeper to assign listings…'}</p>;
}

function OwnerActions({ address, owner }: { address: Address; owner: Address }) {
  const signer = useSigner();
  const sender = useSender(signer?.signer ?? null);
  if (!signer || signer.address !== owner) return null;
  return (
    <div className="actions">
      <p>The workers proved their work. Approve to settle now, or dispute to freeze the funds for the arbiter.</p>
      <button onClick={() => sender.send('Approve the job', async () => [getApproveJobInstruction({ owner: signer.signer, job: address })])}>
        Approve and settle
      </button>{' '}
      <button
        className="secondary"
        onClick={() => sender.send('Dispute the job', async () => [getDisputeJobInstruction({ owner: signer.signer, job: address })])}
      >
        Dispute
      </button>
      <TransactionProgress state={sender.state} />
    </div>
  );
}

function ClosedJob({ address }: { address: Address }) {
  const { rpc } = useChain();
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    let stop = false;
    (async () => {
      // The closing transaction may take a moment to be queryable.
      for (let attempt = 0; attempt < 10 && !stop; attempt++) {
        const found = await findReceipt(rpc, address).catch(() => null);
        if (found) {
          if (!stop) setReceipt(found);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (!stop) setMissing(true);
    })();
    return () => {
      stop = true;
    };
  }, [rpc, address]);
  if (!receipt) {
    return missing ? <Problem>This job account does not exist, and no transaction closing it was found.</Problem> : <Loading what="the receipt" />;
  }
  const { closed, payments } = receipt;
  const fee = payments.reduce((s, p) => s + p.fee, 0n);
  const burned = payments.reduce((s, p) => s + p.burned, 0n);
  return (
    <>
      <p>
        Status: <strong data-testid="job-status">{receipt.outcome}</strong>
      </p>
      <Timeline current={receipt.outcome === 'Settled' ? 'Settled' : 'Open'} />
      <h2>Receipt</h2>
      <table data-testid="receipt">
        <tbody>
          {payments.map((p) => (
            <tr key={p.listing} data-testid="receipt-payment">
              <td>
                Paid to supplier <span title={p.payee}>{shortAddress(p.payee)}</span>
              </td>
              <td data-testid="receipt-net">{formatIo(p.net)}</td>
            </tr>
          ))}
          <tr>
            <td>Network fee (treasury)</td>
            <td data-testid="receipt-fee">{formatIo(fee)}</td>
          </tr>
          <tr>
            <td>Burned</td>
            <td data-testid="receipt-burned">{formatIo(burned)}</td>
          </tr>
          <tr>
            <td>Refunded to you</td>
            <td data-testid="receipt-refund">{formatIo(closed.refund)}</td>
          </tr>
          {closed.compensation > 0n && (
            <tr>
              <td>Of which compensation from slashed suppliers</td>
              <td>{formatIo(closed.compensation)}</td>
            </tr>
          )}
          <tr className="total">
            <td>Escrowed</td>
            <td data-testid="receipt-deposit">{formatIo(closed.deposit)}</td>
          </tr>
        </tbody>
      </table>
      <p className="muted">
        Closing transaction <code>{receipt.signature.slice(0, 24)}…</code>
      </p>
    </>
  );
}
