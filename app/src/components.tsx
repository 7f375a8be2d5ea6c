// Small pieces every page uses: transaction progress, errors, tables.
import type { ReactNode } from 'react';
import type { SendState } from './hooks/send';

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
