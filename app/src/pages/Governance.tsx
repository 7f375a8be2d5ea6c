// Governance: proposals with live tallies against their quorum and
// threshold, your vote and its weight, finalize and execute when due, and
// new proposals (parameter changes, pause, keepers, arbiter, treasury).
import { useEffect, useState } from 'react';
import { address as toAddress, type Address } from '@solana/kit';
import {
  findStakeAccountPda,
  findVoteRecordPda,
  getCastVoteInstructionAsync,
  getCreateProposalInstructionAsync,
  getExecuteProposalInstruction,
  getFinalizeProposalInstruction,
  getNetworkParamsDecoder,
  getProposalDecoder,
  getStakeAccountDecoder,
  getVoteRecordDecoder,
  PROPOSAL_DISCRIMINATOR,
  type NetworkParams,
  type Proposal,
} from '../../client/src/generated';
import { useSigner, type Signer } from '../lib/wallet';
import { useAccount, useNetworkConfig, useNow, useProgramAccounts } from '../hooks/accounts';
import { useSender } from '../hooks/send';
import { findGovernanceAddress, findProposalAddress, type Config } from '../lib/program';
import { duration, formatIo, parseIo } from '../lib/units';
import { Loading, Problem, TransactionProgress } from '../components';

const ACTIONS = ['Set parameters', 'Add keeper', 'Remove keeper', 'Set arbiter', 'Treasury transfer', 'Pause', 'Unpause', 'Upgrade program'];
const STATUS = ['Voting', 'Passed', 'Rejected', 'Executed'];
const CHOICES = ['Yes', 'No', 'Abstain'];
/** Seconds past a deadline before offering the action: the chain's clock is
 * known to this page to about a second. */
const CLOCK_MARGIN = 1;
const ZERO_ADDRESS = toAddress('11111111111111111111111111111111');
const PARAM_NAMES = Object.keys(getNetworkParamsDecoder().decode(new Uint8Array(getNetworkParamsDecoder().fixedSize))) as (keyof NetworkParams)[];

function decodeProposal(data: Uint8Array): Proposal {
  return getProposalDecoder().decode(data);
}

function text(bytes: ReadonlyUint8ArrayLike): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return new TextDecoder().decode(Uint8Array.from(bytes).slice(0, end));
}
type ReadonlyUint8ArrayLike = ArrayLike<number>;

function ceilBps(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps) + 9_999n) / 10_000n;
}

export function Governance() {
  const network = useNetworkConfig();
  const proposals = useProgramAccounts([{ offset: 0, bytes: PROPOSAL_DISCRIMINATOR }], decodeProposal, 'proposals');
  const signer = useSigner();
  if (!network.data) return network.loading ? <Loading what="the network" /> : <Problem>{network.error ?? 'The network is not initialized.'}</Problem>;
  const config = network.data;
  const rows = [...proposals.data].sort(([, a], [, b]) => Number(b.id - a.id));
  return (
    <section>
      <h1>Governance</h1>
      {proposals.error && <Problem>{proposals.error}</Problem>}
      {proposals.loading ? (
        <Loading what="proposals" />
      ) : rows.length === 0 ? (
        <p className="muted">No proposals yet.</p>
      ) : (
        rows.map(([address, proposal]) => <ProposalCard key={address} address={address} proposal={proposal} signer={signer} config={config} />)
      )}
      {signer ? <NewProposal signer={signer} config={config} /> : <p className="muted">Connect a wallet to vote or propose.</p>}
    </section>
  );
}

function describeAction(proposal: Proposal, config: Config): string {
  const action = proposal.action;
  const kind = ACTIONS[action.kind] ?? `action ${action.kind}`;
  if (action.kind === 0) {
    const changed = PARAM_NAMES.filter((name) => action.params[name] !== config.params[name]);
    return changed.length === 0 ? `${kind}: no change from today's` : `${kind}: ${changed.map((name) => `${name} ${config.params[name]} → ${action.params[name]}`).join(', ')}`;
  }
  if (action.kind === 4) return `${kind}: ${formatIo(action.amount)} to ${action.address}`;
  if (action.kind >= 1 && action.kind <= 3) return `${kind}: ${action.address}`;
  return kind;
}

function ProposalCard({ address, proposal, signer, config }: { address: Address; proposal: Proposal; signer: Signer | null; config: Config }) {
  const now = useNow();
  const sender = useSender(signer?.signer ?? null);
  const status = STATUS[proposal.status] ?? `status ${proposal.status}`;
  const turnout = proposal.yes + proposal.no + proposal.abstain;
  const quorum = ceilBps(proposal.turnoutBase, proposal.quorumBps);
  const needed = ceilBps(proposal.yes + proposal.no, proposal.thresholdBps);
  const votingEnds = Number(proposal.votingEndsAt);
  const votingOpen = status === 'Voting' && now < votingEnds;
  const canFinalize = status === 'Voting' && now > votingEnds + CLOCK_MARGIN;
  const pct = (part: bigint, whole: bigint) => (whole === 0n ? 0 : Math.min(100, Number((part * 10_000n) / whole) / 100));
  return (
    <div className="panel" data-testid="proposal">
      <h2>
        #{proposal.id.toString()} {text(proposal.title) || '(untitled)'} <span className={`badge badge-${status.toLowerCase()}`} data-testid="proposal-status">{status}</span>
      </h2>
      <p>{describeAction(proposal, config)}</p>
      <div className="tally">
        {[proposal.yes, proposal.no, proposal.abstain].map((votes, i) => (
          <div className="bar-row" key={CHOICES[i]}>
            <span className="bar-label">{CHOICES[i]}</span>
            <span className="bar" style={{ width: `${pct(votes, turnout || 1n)}%` }} />
            <span className="bar-value" data-testid={`tally-${CHOICES[i].toLowerCase()}`}>{formatIo(votes)}</span>
          </div>
        ))}
      </div>
      <p className="muted">
        Quorum: {formatIo(turnout)} of {formatIo(quorum)} needed ({proposal.quorumBps / 100}% of the stake at creation){turnout >= quorum && turnout > 0n ? ' ✓' : ''}. Threshold:
        yes needs {proposal.thresholdBps / 100}% of yes + no{proposal.yes >= needed && proposal.yes > 0n ? ' ✓' : ''}.{' '}
        {status === 'Voting' && (votingOpen ? `Voting ends in ${duration(votingEnds - now)}.` : canFinalize ? 'Voting has ended: finalize it.' : 'Voting is ending…')}
        {status === 'Passed' && (now < Number(proposal.executableAt) ? ` Executable in ${duration(Number(proposal.executableAt) - now)}.` : ' The timelock is over: execute it.')}
      </p>
      {signer && votingOpen && <Vote signer={signer} proposal={address} sender={sender} />}
      {canFinalize && (
        <button onClick={() => sender.send(`Finalize proposal #${proposal.id}`, async () => [getFinalizeProposalInstruction({ proposal: address })])}>Finalize</button>
      )}
      {status === 'Passed' && now >= Number(proposal.executableAt) + CLOCK_MARGIN && (
        <button
          onClick={() =>
            sender.send(`Execute proposal #${proposal.id}`, async () => [
              getExecuteProposalInstruction({
                proposal: address,
                treasury: config.treasury,
                // A treasury transfer pays its named recipient; other actions ignore it.
                recipient: proposal.action.kind === 4 ? proposal.action.address : await findGovernanceAddress(),
              }),
            ])
          }
        >
          Execute
        </button>
      )}
      <TransactionProgress state={sender.state} />
    </div>
  );
}

function Vote({ signer, proposal, sender }: { signer: Signer; proposal: Address; sender: ReturnType<typeof useSender> }) {
  const [addresses, setAddresses] = useState<{ stake: Address; vote: Address } | null>(null);
  useEffect(() => {
    Promise.all([findStakeAccountPda({ owner: signer.address }), findVoteRecordPda({ proposal, voter: signer.address })]).then(([[stake], [vote]]) =>
      setAddresses({ stake, vote }),
    );
  }, [signer.address, proposal]);
  const stake = useAccount(addresses?.stake ?? null, (d) => getStakeAccountDecoder().decode(d));
  const vote = useAccount(addresses?.vote ?? null, (d) => getVoteRecordDecoder().decode(d));
  const weight = stake.data ? stake.data.staked - stake.data.unbonding : 0n;
  return (
    <div className="row">
      {vote.data ? (
        <span data-testid="your-vote">
          You voted {CHOICES[vote.data.choice]} with {formatIo(vote.data.weight)}. You can change your vote until voting ends.
          {stake.data && stake.data.voteLocked > 0n && (
            <> Your votes lock {formatIo(stake.data.voteLocked)} of your stake until {new Date(Number(stake.data.voteLockUntil) * 1000).toLocaleTimeString()}.</>
          )}
        </span>
      ) : (
        <span>Your weight: {formatIo(weight > 0n ? weight : 0n)} of active stake.</span>
      )}
      {CHOICES.map((choice, i) => (
        <button
          key={choice}
          className={i === 0 ? '' : 'secondary'}
          disabled={weight <= 0n}
          onClick={() => sender.send(`Vote ${choice}`, async () => [await getCastVoteInstructionAsync({ voter: signer.signer, proposal, choice: i })])}
        >
          Vote {choice}
        </button>
      ))}
    </div>
  );
}

function NewProposal({ signer, config }: { signer: Signer; config: Config }) {
  const sender = useSender(signer.signer);
  const [kind, setKind] = useState(0);
  const [title, setTitle] = useState('');
  const [param, setParam] = useState<keyof NetworkParams>('feeBps');
  const [value, setValue] = useState('');
  const [target, setTarget] = useState('');
  const [amount, setAmount] = useState('');
  const problems: string[] = [];
  const titleBytes = new TextEncoder().encode(title);
  if (!title || titleBytes.length > 64) problems.push('A title of 1 to 64 bytes.');
  let address: Address = ZERO_ADDRESS;
  if (kind >= 1 && kind <= 4) {
    try {
      address = toAddress(target);
    } catch {
      problems.push(kind === 4 ? 'The recipient is an IO token account address.' : 'The key is a base58 address.');
    }
  }
  const io = parseIo(amount);
  if (kind === 4 && !io) problems.push('The amount is IO above 0.');
  const current = config.params[param];
  const parsed = /^\d+$/.test(value) ? BigInt(value) : null;
  if (kind === 0 && parsed === null) problems.push(`The new ${param} is a whole number (today ${current}).`);
  if (kind === 7) problems.push('Program upgrades are proposed with the CLI (iogrid gov propose upgrade), which writes the buffer.');
  const zeroParams = getNetworkParamsDecoder().decode(new Uint8Array(getNetworkParamsDecoder().fixedSize));
  const params: NetworkParams =
    kind === 0 && parsed !== null ? { ...config.params, [param]: typeof current === 'bigint' ? parsed : Number(parsed) } : zeroParams;
  return (
    <div className="panel">
      <h2>New proposal</h2>
      <p className="muted">Needs {formatIo(config.params.proposalMinStake)} of active stake. Voting lasts {duration(config.params.votingSecs)}, then a {duration(config.params.timelockSecs)} timelock.</p>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} name="proposalTitle" size={40} />
        </label>
        <label>
          Action
          <select value={kind} onChange={(e) => setKind(Number(e.target.value))} name="proposalKind">
            {ACTIONS.map((a, i) => (
              <option key={a} value={i}>
                {a}
              </option>
            ))}
          </select>
        </label>
        {kind === 0 && (
          <>
            <label>
              Parameter
              <select value={param} onChange={(e) => setParam(e.target.value as keyof NetworkParams)} name="proposalParam">
                {PARAM_NAMES.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              New value (today {String(current)})
              <input value={value} onChange={(e) => setValue(e.target.value)} name="proposalValue" />
            </label>
          </>
        )}
        {kind >= 1 && kind <= 4 && (
          <label>
            {kind === 4 ? 'Recipient IO account' : 'Key'}
            <input value={target} onChange={(e) => setTarget(e.target.value)} name="proposalTarget" size={46} />
          </label>
        )}
        {kind === 4 && (
          <label>
            Amount (IO)
            <input value={amount} onChange={(e) => setAmount(e.target.value)} name="proposalAmount" />
          </label>
        )}
      </form>
      {title && problems.map((p) => <Problem key={p}>{p}</Problem>)}
      <button
        disabled={problems.length > 0}
        data-testid="propose"
        onClick={() =>
          sender.send('Create the proposal', async () => {
            const proposal = await findProposalAddress(config.proposalCount);
            const titleField = new Uint8Array(64);
            titleField.set(titleBytes);
            return [
              await getCreateProposalInstructionAsync({
                proposer: signer.signer,
                proposal,
                action: { kind, padding: new Uint8Array(7), amount: kind === 4 && io ? io : 0n, address, params },
                title: titleField,
                descriptionHash: new Uint8Array(32),
              }),
            ];
          })
        }
      >
        Propose
      </button>
      <TransactionProgress state={sender.state} />
    </div>
  );
}
