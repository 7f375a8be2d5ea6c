// Network figures, built only from the program's accounts.
import { useNetworkConfig } from '../hooks/accounts';
import { useJobs, useOffers } from '../hooks/market';
import { JOB_STATUS } from '../lib/program';
import { formatIo } from '../lib/units';
import { Bars, Loading, Problem, Stat } from '../components';

export function Explorer() {
  const config = useNetworkConfig();
  const { offers } = useOffers();
  const jobs = useJobs(null);
  if (config.loading) return <Loading what="the network" />;
  if (!config.data) return <Problem>{config.error ?? 'The network is not initialized on this cluster.'}</Problem>;
  const c = config.data;
  const supply = c.genesisSupply + c.emitted - c.burned;
  const gpusOnline = offers.filter((o) => o.status === 'Available' || o.status === 'Busy').reduce((s, o) => s + o.gpus, 0);
  const gpusBusy = offers.reduce((s, o) => s + (o.status === 'Busy' ? o.gpus - o.gpusFree : 0), 0);
  const byStatus = JOB_STATUS.map((status, i) => ({
    label: status,
    value: [...jobs.data.values()].filter((j) => j.job.status === i).length,
  }));
  const byState = ['Available', 'Busy', 'Silent', 'Offline'].map((state) => ({
    label: state,
    value: offers.filter((o) => o.status === state).reduce((s, o) => s + o.gpus, 0),
  }));
  return (
    <section>
      <h1>Network</h1>
      {c.paused ? <Problem>The network is paused by governance.</Problem> : null}
      <div className="stats">
        <Stat label="IO supply" value={formatIo(supply)} testId="supply" />
        <Stat label="supply cap" value={formatIo(c.supplyCap)} />
        <Stat label="emitted" value={formatIo(c.emitted)} />
        <Stat label="burned" value={formatIo(c.burned)} testId="burned" />
        <Stat label="staked" value={formatIo(c.totalStaked)} />
        <Stat label="treasury" value={formatIo(c.treasuryBalance)} />
        <Stat label="GPUs online" value={gpusOnline} testId="gpus-online" />
        <Stat label="GPUs running jobs" value={gpusBusy} />
      </div>
      <div className="columns">
        <div>
          <h2>Jobs by status</h2>
          <Bars rows={byStatus} />
        </div>
        <div>
          <h2>Listed GPUs by state</h2>
          <Bars rows={byState} />
        </div>
      </div>
      <h2>Parameters</h2>
      <dl className="facts">
        <dt>Fee / burn</dt>
        <dd>
          {c.params.feeBps / 100}% / {c.params.burnBps / 100}% of each payment
        </dd>
        <dt>Stake per listed GPU</dt>
        <dd>{formatIo(c.params.minStakePerGpu)}</dd>
        <dt>Heartbeat</dt>
        <dd>
          every {c.params.heartbeatIntervalSecs} s, silent after {c.params.heartbeatTimeoutSecs} s
        </dd>
        <dt>Challenge window</dt>
        <dd>{c.params.challengeWindowSecs} s</dd>
        <dt>Slash</dt>
        <dd>
          {c.params.slashBps / 100}% of locked stake, capped at {c.params.slashCapBps / 100}%
        </dd>
        <dt>Keepers</dt>
        <dd>{c.keeperCount}</dd>
      </dl>
    </section>
  );
}
