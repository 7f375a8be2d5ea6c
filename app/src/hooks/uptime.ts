// A listing's recent heartbeats, from the signatures of the transactions
// that wrote it (their block times), re-read every 15 s: the gaps between
// them and the share of the window the worker was not silent.
import { useEffect, useState } from 'react';
import type { Address } from '@solana/kit';
import { useChain } from '../lib/chain';

export type Uptime = {
  /** Seconds between consecutive writes, oldest first. */
  gaps: number[];
  /** Seconds the history covers. */
  window: number;
  /** Share of the window not spent in silences longer than the timeout, 0..1. */
  uptime: number;
};

/** Uptime over the covered window: silences past `timeout` count as down
 * for the time beyond the timeout, as the program forfeits it. */
export function uptimeOf(times: number[], timeout: number, now: number): Uptime | null {
  const sorted = [...times].sort((a, b) => a - b);
  if (sorted.length < 2) return null;
  const points = [...sorted, now];
  const gaps = points.slice(1).map((t, i) => t - points[i]);
  const window = now - sorted[0];
  const down = gaps.reduce((sum, gap) => sum + Math.max(0, gap - timeout), 0);
  return { gaps, window, uptime: window > 0 ? 1 - down / window : 1 };
}

/** The block times of the listing's last 100 writes, re-read every 15 s. */
export function useHeartbeatTimes(listing: Address): number[] {
  const { rpc } = useChain();
  const [times, setTimes] = useState<number[]>([]);
  useEffect(() => {
    let stop = false;
    const read = async () => {
      try {
        const signatures = await rpc.getSignaturesForAddress(listing, { limit: 100, commitment: 'confirmed' }).send();
        const times = signatures.flatMap((s) => (s.err === null && s.blockTime !== null ? [Number(s.blockTime)] : []));
        if (!stop) setTimes(times);
      } catch {
        // Keep the last figure; the listing's own row shows read errors.
      }
    };
    read();
    const timer = setInterval(read, 15_000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [rpc, listing]);
  return times;
}
