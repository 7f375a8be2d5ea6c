// Every listing, filtered by what a job needs, and the supply by model and region.
import { useMemo, useState } from 'react';
import { useOffers } from '../hooks/market';
import { useNetworkConfig, useNow } from '../hooks/accounts';
import { supplyBy, type Offer } from '../lib/market';
import { duration, formatIo, parseIo } from '../lib/units';
import { Bars, Heartbeats, Loading, Problem } from '../components';

export function Marketplace() {
  const { offers, loading, error } = useOffers();
  const network = useNetworkConfig();
  const now = useNow();
  const [model, setModel] = useState('');
  const [region, setRegion] = useState('');
  const [minVram, setMinVram] = useState('0');
  const [maxPrice, setMaxPrice] = useState('');
  const [onlyFree, setOnlyFree] = useState(false);
  const models = useMemo(() => [...new Set(offers.map((o) => o.model))].sort(), [offers]);
  const regions = useMemo(() => [...new Set(offers.map((o) => o.region))].sort(), [offers]);
  const priceCap = parseIo(maxPrice);
  const shown = offers
    .filter((o) => (!model || o.model === model) && (!region || o.region === region))
    .filter((o) => o.vramGb >= Number(minVram || 0))
    .filter((o) => !maxPrice || (priceCap !== null && o.price <= priceCap))
    .filter((o) => !onlyFree || (o.gpusFree > 0 && (o.status === 'Available' || o.status === 'Busy')))
    .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
  return (
    <section>
      <h1>Marketplace</h1>
      {error && <Problem>{error}</Problem>}
      <div className="columns">
        <div>
          <h2>Supply by GPU model</h2>
          <Bars rows={supplyBy(offers, (o) => o.model).map((r) => ({ label: r.key, value: r.gpus, note: `${r.free} free of ${r.gpus}` }))} />
        </div>
        <div>
          <h2>Supply by region</h2>
          <Bars rows={supplyBy(offers, (o) => o.region || 'anywhere').map((r) => ({ label: r.key, value: r.gpus, note: `${r.free} free of ${r.gpus}` }))} />
        </div>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Model
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">any</option>
            {models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Region
          <select value={region} onChange={(e) => setRegion(e.target.value)}>
            <option value="">any</option>
            {regions.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Min VRAM (GB)
          <input type="number" min={0} value={minVram} onChange={(e) => setMinVram(e.target.value)} />
        </label>
        <label>
          Max price (IO/GPU-h)
          <input value={maxPrice} placeholder="any" onChange={(e) => setMaxPrice(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={onlyFree} onChange={(e) => setOnlyFree(e.target.checked)} />
          free GPUs only
        </label>
      </form>
      {maxPrice && priceCap === null && <Problem>The max price must be an amount of IO, like 2.5.</Problem>}
      {loading ? <Loading what="listings" /> : <ListingTable offers={shown} now={now} timeout={Number(network.data?.params.heartbeatTimeoutSecs ?? 60)} />}
    </section>
  );
}

/** Rows whose heartbeat history is read (one RPC call each, every 15 s). */
const UPTIME_ROWS = 50;

function ListingTable({ offers, now, timeout }: { offers: Offer[]; now: number; timeout: number }) {
  if (offers.length === 0) return <p className="muted">No listing matches these filters.</p>;
  return (
    <table data-testid="listings">
      <thead>
        <tr>
          <th>Model</th>
          <th>VRAM</th>
          <th>Region</th>
          <th>GPUs free</th>
          <th>Price / GPU-h</th>
          <th>Status</th>
          <th>Heartbeats and uptime</th>
          <th>Jobs done / faulted</th>
          <th>Stake locked</th>
        </tr>
      </thead>
      <tbody>
        {offers.map((o, i) => (
          <tr key={o.address} title={o.address}>
            <td>{o.model}</td>
            <td>{o.vramGb} GB</td>
            <td>{o.region || 'anywhere'}</td>
            <td>
              {o.gpusFree} / {o.gpus}
            </td>
            <td>{formatIo(o.price)}</td>
            <td className={`status-${o.status.toLowerCase()}`}>{o.status}</td>
            <td>
              {duration(now - o.lastHeartbeat)} ago
              {i < UPTIME_ROWS && o.status !== 'Offline' && <Heartbeats listing={o.address} timeout={timeout} />}
            </td>
            <td>
              {o.jobsCompleted} / {o.jobsFaulted}
            </td>
            <td>{formatIo(o.stakeLocked)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
