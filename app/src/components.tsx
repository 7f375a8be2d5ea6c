// Small pieces every page uses: transaction progress, errors, tables.
import type { ReactNode } from 'react';
import type { Address } from '@solana/kit';
import type { SendState } from './hooks/send';
import { useNow } from './hooks/accounts';
import { uptimeOf, useHeartbeatTimes } from './hooks/uptime';
import { duration } from './lib/units';

export function TransactionProgress({ state }: { state: SendState }) {
  switch (state.step) {
    case 'idle':
      return null;
    case 'preparing':
      return <p className="progress" role="status">{state.what}: preparing…</p>;
    case 'signing':
      return <p className="progress" role="status">{state.what}: approve it in your wallet…</p>;
    case 'confirming':
      return (
        <p className="progress" role="status">
          {state.what}: sent, waiting for confirmation… <code>{state.signature.slice(0, 16)}…</code>
        </p>
      );
    case 'confirmed':
      return (
        <p className="ok" role="status" data-testid="tx-confirmed">
          {state.what}: confirmed in {state.ms} ms. <code title={state.signature}>{state.signature.slice(0, 16)}…</code>
        </p>
      );
    case 'failed':
      return <Problem>{state.error}</Problem>;
  }
}

export function Problem({ children }: { children: ReactNode }) {
  return (
    <p className="problem" role="alert">
      {children}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

/** A horizontal bar chart of labelled values. */
export function Bars({ rows }: { rows: { label: string; value: number; note?: string }[] }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <div className="bars">
      {rows.map((row) => (
        <div className="bar-row" key={row.label}>
          <span className="bar-label">{row.label}</span>
          <span className="bar" style={{ width: `${(100 * row.value) / max}%` }} />
          <span className="bar-value">{row.note ?? row.value}</span>
        </div>
      ))}
    </div>
  );
}

/** The gaps between a listing's recent heartbeats as bars (red past the
 * timeout), and its uptime over them. */
export function Heartbeats({ listing, timeout }: { listing: Address; timeout: number }) {
  const times = useHeartbeatTimes(listing);
  const now = useNow();
  const uptime = uptimeOf(times, timeout, now);
  if (!uptime) return null;
  const gaps = uptime.gaps.slice(-40);
  const tallest = Math.max(timeout, ...gaps);
  return (
    <div className="uptime" title={`heartbeat gaps over the last ${duration(uptime.window)}`}>
      <svg width={gaps.length * 3} height={16} aria-hidden="true">
        {gaps.map((gap, i) => {
          const height = Math.max(1, (16 * Math.min(gap, tallest)) / tallest);
          return <rect key={i} x={i * 3} y={16 - height} width={2} height={height} fill={gap > timeout ? '#a40e26' : '#4c3ee8'} />;
        })}
      </svg>
      <span data-testid="uptime">
        uptime {(100 * uptime.uptime).toFixed(uptime.uptime === 1 ? 0 : 1)}% over {duration(uptime.window)}
      </span>
    </div>
  );
}
