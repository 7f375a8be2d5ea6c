// Suppliers: stake (with the unbonding cooldown shown), list GPUs, watch
// each listing's heartbeat and record, claim its emission rewards.
import { useEffect, useState } from 'react';
import { address as toAddress, getAddressEncoder, type Address } from '@solana/kit';
import {
  findStakeAccountPda,
  getCancelUnstakeInstructionAsync,
  getClaimRewardsInstruction,
  getListGpuInstructionAsync,
  getRequestUnstakeInstructionAsync,
  getStakeAccountDecoder,
  getStakeInstructionAsync,
  getWithdrawInstructionAsync,
  GPU_LISTING_DISCRIMINATOR,
  type StakeAccount,
} from '../../client/src/generated';
import { ioAccountOf } from '../lib/chain';
import { useSigner, type Signer } from '../lib/wallet';
import { useAccount, useIoBalance, useNetworkConfig, useNow, useProgramAccounts } from '../hooks/accounts';
import { useSender } from '../hooks/send';
import { decodeListing, type Config } from '../lib/program';
import { offerOf } from '../lib/market';
import { asciiField, duration, formatIo, parseIo, shortAddress } from '../lib/units';
import { Heartbeats, Loading, Problem, Stat, TransactionProgress } from '../components';

function decodeStake(data: Uint8Array): StakeAccount {
  return getStakeAccountDecoder().decode(data);
}

export function Supplier() {
  const signer = useSigner();
  const network = useNetworkConfig();
  if (!signer) return <p className="muted">Connect a wallet to stake and list GPUs.</p>;
  if (!network.data) return network.loading ? <Loading what="the network" /> : <Problem>{network.error ?? 'The network is not initialized.'}</Problem>;
  return <SupplierFor signer={signer} config={network.data} />;
}

function SupplierFor({ signer, config }: { signer: Signer; config: Config }) {
  const [stakeAddress, setStakeAddress] = useState<Address | null>(null);
  useEffect(() => {
    findStakeAccountPda({ owner: signer.address }).then(([pda]) => setStakeAddress(pda));
  }, [signer.address]);
  const stake = useAccount(stakeAddress, decodeStake);
  return (
    <section>
      <h1>Supplier</h1>
      <StakePanel signer={signer} config={config} stake={stake.data} />
      <MyListings signer={signer} config={config} />
      <NewListing signer={signer} stake={stake.data} config={config} />
    </section>
  );
}

function StakePanel({ signer, config, stake }: { signer: Signer; config: Config; stake: StakeAccount | null }) {
  const balance = useIoBalance(signer.address, config.ioMint);
  const sender = useSender(signer.signer);
  const now = useNow();
  const [amountText, setAmountText] = useState('');
  const amount = parseIo(amountText);
  const staked = stake?.staked ?? 0n;
  const free = staked - (stake?.lockedForListings ?? 0n) - (stake?.voteLocked ?? 0n);
  const unbonding = stake?.unbonding ?? 0n;
  const readyAt = Number(stake?.unbondingAvailableAt ?? 0n);
  const tokens = () => ioAccountOf(signer.address, config.ioMint);
  return (
    <div className="panel" data-testid="stake-panel">
      <h2>Stake</h2>
      <div className="stats">
        <Stat label="staked" value={formatIo(staked)} testId="staked" />
        <Stat label="locked by listings" value={formatIo(stake?.lockedForListings ?? 0n)} />
        <Stat label="locked by votes" value={formatIo(stake?.voteLocked ?? 0n)} />
        <Stat
          label={unbonding === 0n ? 'unbonding' : now >= readyAt ? 'unbonded: withdraw it' : `unbonding, ready in ${duration(readyAt - now)}`}
          value={formatIo(unbonding)}
          testId="unbonding"
        />
        <Stat label="in your wallet" value={balance.loading ? '…' : formatIo(balance.data)} />
      </div>
      <p className="muted">
        Each listed GPU locks {formatIo(config.params.minStakePerGpu)}; unstaking takes {duration(Number(config.params.unbondingSecs))} before you can
        withdraw.
      </p>
      <div className="row">
        <input aria-label="amount of IO" placeholder="amount of IO" value={amountText} onChange={(e) => setAmountText(e.target.value)} name="stakeAmount" />
        <button
          disabled={!amount || amount > balance.data}
          onClick={() =>
            amount &&
            sender.send(`Stake ${formatIo(amount)}`, async () => [
              await getStakeInstructionAsync({ owner: signer.signer, ownerTokens: await tokens(), stakeVault: config.stakeVault, amount }),
            ])
          }
        >
          Stake
        </button>
        <button
          className="secondary"
          disabled={!amount || amount > free}
          onClick={() =>
            amount &&
            sender.send(`Unstake ${formatIo(amount)}`, async () => [await getRequestUnstakeInstructionAsync({ owner: signer.signer, amount })])
          }
        >
          Request unstake
        </button>
        {unbonding > 0n && (
          <>
            <button
              className="secondary"
              disabled={now <= readyAt}
              onClick={() =>
                sender.send(`Withdraw ${formatIo(unbonding)}`, async () => [
                  await getWithdrawInstructionAsync({ owner: signer.signer, stakeVault: config.stakeVault, destination: await tokens() }),
                ])
              }
            >
              Withdraw
            </button>
            <button className="secondary" onClick={() => sender.send('Cancel the unstake', async () => [await getCancelUnstakeInstructionAsync({ owner: signer.signer })])}>
              Cancel unstake
            </button>
          </>
        )}
      </div>
      {amountText && amount === null && <Problem>The amount must be IO, like 250 or 2.5.</Problem>}
      {amount !== null && amount > 0n && amount > free && (
        <p className="muted">Only {formatIo(free > 0n ? free : 0n)} of your stake is free to unstake.</p>
      )}
      <TransactionProgress state={sender.state} />
    </div>
  );
}

function MyListings({ signer, config }: { signer: Signer; config: Config }) {
  const listings = useProgramAccounts(
    [
      { offset: 0, bytes: GPU_LISTING_DISCRIMINATOR },
      { offset: 8, bytes: new Uint8Array(getAddressEncoder().encode(signer.address)) },
    ],
    decodeListing,
    `listings:${signer.address}`,
  );
  const sender = useSender(signer.signer);
  const now = useNow();
  if (listings.loading) return <Loading what="your listings" />;
  const rows = [...listings.data].sort(([, a], [, b]) => Number(a.id - b.id));
  return (
    <div className="panel">
      <h2>Your listings</h2>
      {listings.error && <Problem>{listings.error}</Problem>}
      {rows.length === 0 ? (
        <p className="muted">No GPUs listed yet.</p>
      ) : (
        <table data-testid="my-listings">
          <thead>
            <tr>
              <th>#</th>
              <th>GPUs</th>
              <th>Price / GPU-h</th>
              <th>Status</th>
              <th>Last heartbeat</th>
              <th>Jobs done / faulted</th>
              <th>Rewards settled</th>
              <th>Claimed</th>
              <th>Forfeited</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map(([address, listing]) => {
              const offer = offerOf(address, listing, now, config.params.heartbeatTimeoutSecs);
              return (
                <tr key={address} title={address} data-testid="my-listing">
                  <td>{listing.id.toString()}</td>
                  <td>
                    {offer.gpusFree} free of {offer.gpus} × {offer.model} ({offer.vramGb} GB, {offer.region || 'anywhere'})
                  </td>
                  <td>{formatIo(offer.price)}</td>
                  <td className={`status-${offer.status.toLowerCase()}`}>{offer.status}</td>
                  <td>
                    {duration(now - offer.lastHeartbeat)} ago
                    <Heartbeats listing={address} timeout={config.params.heartbeatTimeoutSecs} />
                  </td>
                  <td>
                    {offer.jobsCompleted} / {offer.jobsFaulted}
                  </td>
                  <td>{formatIo(listing.rewardsAccrued)}</td>
                  <td data-testid="claimed">{formatIo(listing.rewardsClaimed)}</td>
                  <td>{formatIo(listing.rewardsForfeited)}</td>
                  <td>
                    <button
                      className="secondary"
                      onClick={() =>
                        sender.send(`Claim listing #${listing.id} rewards`, async () => [
                          getClaimRewardsInstruction({
                            owner: signer.signer,
                            listing: address,
                            rewardsVault: config.rewardsVault,
                            ioMint: config.ioMint,
                            destination: await ioAccountOf(signer.address, config.ioMint),
                          }),
                        ])
                      }
                    >
                      Claim rewards
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p className="muted">A listing earns emission while its worker heartbeats; rewards earned since the last settlement are paid by the claim.</p>
      <TransactionProgress state={sender.state} />
    </div>
  );
}

function NewListing({ signer, stake, config }: { signer: Signer; stake: StakeAccount | null; config: Config }) {
  const sender = useSender(signer.signer);
  const [form, setForm] = useState({ worker: '', model: 'H100-80GB', vramGb: '80', gpus: '1', region: '', price: '2' });
  const set = (field: keyof typeof form) => (e: { target: { value: string } }) => {
    sender.reset();
    setForm({ ...form, [field]: e.target.value });
  };
  const problems: string[] = [];
  let worker: Address | null = null;
  try {
    worker = toAddress(form.worker);
  } catch {
    problems.push('The worker key is the base58 address the worker node signs with (iogrid-worker prints it).');
  }
  const gpus = Number(form.gpus);
  if (!Number.isInteger(gpus) || gpus < 1 || gpus > 1024) problems.push('A listing offers 1 to 1,024 GPUs.');
  const vramGb = Number(form.vramGb);
  if (!Number.isInteger(vramGb) || vramGb < 1 || vramGb > 65_535) problems.push('VRAM is a whole number of GB.');
  const model = asciiField(form.model, 16);
  if (!model || !form.model) problems.push('The GPU model is 1 to 16 ASCII characters.');
  const region = asciiField(form.region, 8);
  if (!region) problems.push('The region is at most 8 ASCII characters.');
  const price = parseIo(form.price);
  if (!price) problems.push('The price is an amount of IO per GPU-hour above 0.');
  const needed = config.params.minStakePerGpu * BigInt(Number.isInteger(gpus) ? gpus : 0);
  const free = (stake?.staked ?? 0n) - (stake?.lockedForListings ?? 0n) - (stake?.voteLocked ?? 0n) - (stake?.unbonding ?? 0n);
  const understaked = needed > (free > 0n ? free : 0n);
  return (
    <div className="panel">
      <h2>List GPUs</h2>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Worker key
          <input value={form.worker} onChange={set('worker')} name="worker" size={46} />
        </label>
        <label>
          GPU model
          <input value={form.model} onChange={set('model')} name="listModel" />
        </label>
        <label>
          VRAM (GB)
          <input value={form.vramGb} onChange={set('vramGb')} name="vramGb" />
        </label>
        <label>
          GPUs
          <input value={form.gpus} onChange={set('gpus')} name="listGpus" />
        </label>
        <label>
          Region
          <input value={form.region} onChange={set('region')} name="listRegion" placeholder="anywhere" />
        </label>
        <label>
          Price (IO per GPU-hour)
          <input value={form.price} onChange={set('price')} name="listPrice" />
        </label>
      </form>
      {form.worker && problems.map((p) => <Problem key={p}>{p}</Problem>)}
      {understaked && (
        <Problem>
          Listing {gpus} GPU(s) locks {formatIo(needed)} of stake; {formatIo(free > 0n ? free : 0n)} of yours is free. Stake more first.
        </Problem>
      )}
      <button
        disabled={problems.length > 0 || understaked}
        onClick={() =>
          worker &&
          model &&
          region &&
          price &&
          sender.send(`List ${gpus} × ${form.model}`, async () => [
            await getListGpuInstructionAsync({
              owner: signer.signer,
              id: stake?.nextListingId ?? 0n,
              spec: { worker, gpuModel: model, pricePerGpuHour: price, region, vramGb, gpuCount: gpus, padding: new Uint8Array(4) },
            }),
          ])
        }
        data-testid="list-gpus"
      >
        List GPUs
      </button>
      <p className="muted">
        The worker node (<code>iogrid-worker run --listing …</code>) heartbeats for the listing; a listing silent for {config.params.heartbeatTimeoutSecs} s takes no
        jobs and earns nothing. Suppliers: {shortAddress(signer.address)}.
      </p>
      <TransactionProgress state={sender.state} />
    </div>
  );
}
