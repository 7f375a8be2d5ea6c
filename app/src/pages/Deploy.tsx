// Deploy: what the job needs, what it escrows and would likely cost, whether
// listings can take it now (and if not, why and what to change), then sign.
import { useMemo, useState } from 'react';
import { getCreateJobInstructionAsync } from '../../client/src/generated';
import { useChain, ioAccountOf } from '../lib/chain';
import { useSigner } from '../lib/wallet';
import { useIoBalance, useNetworkConfig } from '../hooks/accounts';
import { useOffers } from '../hooks/market';
import { useSender } from '../hooks/send';
import { fitJob } from '../lib/market';
import { freshJobId, rememberJob, uploadTemplate, workloadOfUri, type Workload } from '../lib/jobs';
import { asciiField, bpsOf, escrowFor, formatIo, parseIo, SECS_PER_HOUR } from '../lib/units';
import { Problem, TransactionProgress } from '../components';

const MAX_JOB_SECS = 365 * 86_400;
const MAX_CLUSTER = 16;
const CUSTOM = '__custom__';

type Form = {
  model: string;
  region: string;
  minVramGb: string;
  gpus: string;
  hours: string;
  maxPrice: string;
  maxListings: string;
  workload: string;
  uri: string;
};

type Checked = {
  gpus: number;
  secs: bigint;
  maxPrice: bigint;
  minVramGb: number;
  maxListings: number;
  model: Uint8Array;
  region: Uint8Array;
};

/** The form as the program will check it; a list of problems otherwise. */
function check(form: Form): { ok: Checked } | { problems: string[] } {
  const problems: string[] = [];
  const gpus = Number(form.gpus);
  if (!Number.isInteger(gpus) || gpus < 1 || gpus > 65_535) problems.push('GPUs must be a whole number from 1.');
  const hours = Number(form.hours);
  const secs = Math.round(hours * 3600);
  if (!Number.isFinite(hours) || secs < 1 || secs > MAX_JOB_SECS) problems.push('Duration must be between 1 second and a year (8,760 h).');
  const maxPrice = parseIo(form.maxPrice);
  if (maxPrice === null || maxPrice === 0n) problems.push('The max price must be an amount of IO above 0, like 2.5.');
  const minVramGb = Number(form.minVramGb || 0);
  if (!Number.isInteger(minVramGb) || minVramGb < 0 || minVramGb > 65_535) problems.push('Min VRAM must be a whole number of GB.');
  const maxListings = Number(form.maxListings || Math.min(gpus || 1, MAX_CLUSTER));
  if (!Number.isInteger(maxListings) || maxListings < 1 || maxListings > MAX_CLUSTER) problems.push(`Suppliers must be between 1 and ${MAX_CLUSTER}.`);
  const model = asciiField(form.model, 16);
  if (!model) problems.push('The GPU model is at most 16 ASCII characters.');
  const region = asciiField(form.region, 8);
  if (!region) problems.push('The region is at most 8 ASCII characters.');
  if (form.workload === CUSTOM && (!form.uri || form.uri.length > 64 || !/^[\x20-\x7e]+$/.test(form.uri))) {
    problems.push('The workload URI is 1 to 64 ASCII characters.');
  }
  if (problems.length || maxPrice === null || !model || !region) return { problems };
  return { ok: { gpus, secs: BigInt(secs), maxPrice, minVramGb, maxListings, model, region } };
}

export function Deploy() {
  const chain = useChain();
  const signer = useSigner();
  const { offers } = useOffers();
  const network = useNetworkConfig();
  const balance = useIoBalance(signer?.address ?? null, network.data?.ioMint ?? null);
  const sender = useSender(signer?.signer ?? null);
  const templates = chain.config.templates;
  const [form, setForm] = useState<Form>({
    model: 'H100-80GB',
    region: '',
    minVramGb: '0',
    gpus: '2',
    hours: '1',
    maxPrice: '36',
    maxListings: '',
    workload: templates[0]?.name ?? CUSTOM,
    uri: 'sim:cpu:30',
  });
  const set = (field: keyof Form) => (e: { target: { value: string } }) => {
    sender.reset();
    setForm({ ...form, [field]: e.target.value });
  };
  const models = useMemo(() => [...new Set(offers.map((o) => o.model))].sort(), [offers]);
  const checked = check(form);
  const valid = 'ok' in checked ? checked.ok : null;
  const escrow = valid ? escrowFor(valid.maxPrice, valid.gpus, valid.secs) : null;
  const fit = valid
    ? fitJob(offers, {
        model: form.model,
        region: form.region,
        minVramGb: valid.minVramGb,
        gpus: valid.gpus,
        maxPrice: valid.maxPrice,
        maxListings: valid.maxListings,
      })
    : null;
  const likely = fit?.matched && valid ? (fit.hourlyCost * valid.secs + SECS_PER_HOUR - 1n) / SECS_PER_HOUR : null;
  const params = network.data?.params;
  const overBudget = signer && escrow !== null && !balance.loading && escrow > balance.data;
  const busy = sender.state.step === 'preparing' || sender.state.step === 'signing' || sender.state.step === 'confirming';

  async function deploy() {
    if (!valid || !signer || !network.data) return;
    const mint = network.data.ioMint;
    let job = '';
    const signature = await sender.send('Escrow the job', async () => {
      const workload: Workload =
        form.workload === CUSTOM ? await workloadOfUri(form.uri) : await uploadTemplate(chain.config, form.workload);
      const uri = asciiField(workload.uri, 64);
      if (!uri) throw new Error('The workload URI is 1 to 64 ASCII characters.');
      const fresh = await freshJobId(chain.rpc, signer.address);
      job = fresh.job;
      return [
        await getCreateJobInstructionAsync({
          owner: signer.signer,
          ownerTokens: await ioAccountOf(signer.address, mint),
          ioMint: mint,
          id: fresh.id,
          workloadHash: workload.hash,
          workloadUri: uri,
          gpuModel: valid.model,
          region: valid.region,
          maxPricePerGpuHour: valid.maxPrice,
          durationSecs: valid.secs,
          minVramGb: valid.minVramGb,
          gpus: valid.gpus,
          maxListings: valid.maxListings,
          padding: new Uint8Array(3),
        }),
      ];
    });
    if (signature && job) {
      rememberJob(signer.address, job as never);
      window.location.hash = `#/jobs/${job}`;
    }
  }

  return (
    <section>
      <h1>Deploy a cluster</h1>
      <div className="columns">
        <form className="deploy" onSubmit={(e) => e.preventDefault()}>
          <label>
            GPU model
            <input list="models" value={form.model} onChange={set('model')} placeholder="any model" name="model" />
            <datalist id="models">
              {models.map((m) => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </label>
          <label>
            GPUs
            <input type="number" min={1} value={form.gpus} onChange={set('gpus')} name="gpus" />
          </label>
          <label>
            Region
            <input value={form.region} onChange={set('region')} placeholder="anywhere" name="region" />
          </label>
          <label>
            Min VRAM per GPU (GB)
            <input type="number" min={0} value={form.minVramGb} onChange={set('minVramGb')} name="minVram" />
          </label>
          <label>
            Duration (hours)
            <input value={form.hours} onChange={set('hours')} name="hours" />
          </label>
          <label>
            Max price (IO per GPU-hour)
            <input value={form.maxPrice} onChange={set('maxPrice')} name="maxPrice" />
          </label>
          <label>
            Suppliers at most
            <input type="number" min={1} max={MAX_CLUSTER} value={form.maxListings} placeholder={String(Math.min(Number(form.gpus) || 1, MAX_CLUSTER))} onChange={set('maxListings')} name="maxListings" />
          </label>
          <label>
            Workload
            <select value={form.workload} onChange={set('workload')} name="workload">
              {templates.map((t) => (
                <option key={t.name} value={t.name} title={t.description}>
                  template: {t.name}
                </option>
              ))}
              <option value={CUSTOM}>custom workload URI</option>
            </select>
          </label>
          {form.workload === CUSTOM ? (
            <label>
              Workload URI
              <input value={form.uri} onChange={set('uri')} name="uri" />
            </label>
          ) : (
            <p className="muted">{templates.find((t) => t.name === form.workload)?.description}</p>
          )}
        </form>
        <aside className="estimate" data-testid="estimate">
          <h2>Cost</h2>
          {'problems' in checked && checked.problems.map((p) => <Problem key={p}>{p}</Problem>)}
          {escrow !== null && (
            <>
              <p>
                Escrow: <strong data-testid="escrow">{formatIo(escrow)}</strong>
                <br />
                <span className="muted">max price × GPUs × duration, held by the program; what is not earned is refunded.</span>
              </p>
              {likely !== null && params && (
                <p>
                  Running the full duration at today's prices: <strong data-testid="likely-cost">{formatIo(likely)}</strong>, of which the network fee is{' '}
                  {formatIo(bpsOf(likely, params.feeBps))} and {formatIo(bpsOf(likely, params.burnBps))} is burned; about{' '}
                  {formatIo(escrow - likely)} comes back.
                </p>
              )}
              {fit && fit.matched && (
                <p className="ok" data-testid="match">
                  Matches now: {fit.plan.map((p) => `${p.gpus} × ${p.offer.model} at ${formatIo(p.offer.price)}/h`).join(', ')}.
                </p>
              )}
              {fit && !fit.matched && <p className="warn" data-testid="no-match">{fit.reason}</p>}
            </>
          )}
          {!signer && <p className="muted">Connect a wallet to deploy.</p>}
          {signer && (
            <p>
              Your IO: <span data-testid="balance">{balance.loading ? '…' : formatIo(balance.data)}</span>
            </p>
          )}
          {overBudget && escrow !== null && (
            <Problem>
              This job escrows {formatIo(escrow)} but your wallet holds {formatIo(balance.data)}. Ask for fewer GPUs or hours, or a lower max price.
            </Problem>
          )}
          {network.data?.paused ? <Problem>The network is paused by governance: no new jobs for now.</Problem> : null}
          <button disabled={!valid || !signer || !!overBudget || busy || !!network.data?.paused} onClick={deploy} data-testid="deploy">
            {busy ? 'Deploying…' : escrow !== null ? `Deploy and escrow ${formatIo(escrow)}` : 'Deploy'}
          </button>
          <TransactionProgress state={sender.state} />
        </aside>
      </div>
    </section>
  );
}
