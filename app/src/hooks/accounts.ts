// One hook per on-chain read: a snapshot over RPC, then live updates over
// the websocket (the program's accounts, one account, a token balance).
import { createContext, createElement, useContext, useEffect, useState, type ReactNode } from 'react';
import { getBase58Decoder, type Address } from '@solana/kit';
import { useChain, ioAccountOf } from '../lib/chain';
import { base64Bytes, decodeConfig, type Config } from '../lib/program';
import { findConfigPda } from '../../client/src/generated';

export type Loadable<T> = { data: T; loading: boolean; error: string | null };

type Filter = { offset: number; bytes: Uint8Array };

function memcmp(filters: Filter[]) {
  const base58 = getBase58Decoder();
  return filters.map((f) => ({
    memcmp: { offset: BigInt(f.offset), bytes: base58.decode(f.bytes) as never, encoding: 'base58' as const },
  }));
}

/** Every program account matching `filters` (discriminator first), kept
 * current: a notification replaces or (closed: no data) removes one. */
export function useProgramAccounts<T>(
  filters: Filter[],
  decode: (data: Uint8Array) => T,
  key: string,
): Loadable<Map<Address, T>> {
  const { rpc, subscriptions, programId } = useChain();
  const [state, setState] = useState<Loadable<Map<Address, T>>>({ data: new Map(), loading: true, error: null });
  useEffect(() => {
    const abort = new AbortController();
    const rpcFilters = memcmp(filters);
    const apply = (address: Address, lamports: bigint, data: string) =>
      setState((prev) => {
        const next = new Map(prev.data);
        const bytes = base64Bytes(data);
        if (lamports === 0n || bytes.length === 0) next.delete(address);
        else {
          try {
            next.set(address, decode(bytes));
          } catch {
            next.delete(address);
          }
        }
        return { ...prev, data: next };
      });
    (async () => {
      const stream = await subscriptions
        .programNotifications(programId, { encoding: 'base64', commitment: 'confirmed', filters: rpcFilters })
        .subscribe({ abortSignal: abort.signal });
      const snapshot = await rpc
        .getProgramAccounts(programId, { encoding: 'base64', commitment: 'confirmed', filters: rpcFilters })
        .send({ abortSignal: abort.signal });
      const data = new Map<Address, T>();
      for (const { pubkey, account } of snapshot) {
        try {
          data.set(pubkey, decode(base64Bytes(account.data[0])));
        } catch {
          // Not decodable as T: another version's layout; skip it.
        }
      }
      setState({ data, loading: false, error: null });
      for await (const { value } of stream) {
        apply(value.pubkey, value.account.lamports, value.account.data[0]);
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) setState((prev) => ({ ...prev, loading: false, error: describeReadError(err) }));
    });
    return () => abort.abort();
    // `key` names the filters; decode is a module function.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rpc, subscriptions, programId, key]);
  return state;
}

/** One account, decoded, kept current; `null` data once it does not exist. */
export function useAccount<T>(address: Address | null, decode: (data: Uint8Array) => T): Loadable<T | null> {
  const { rpc, subscriptions } = useChain();
  const [state, setState] = useState<Loadable<T | null>>({ data: null, loading: true, error: null });
  useEffect(() => {
    if (!address) return;
    const abort = new AbortController();
    const set = (lamports: bigint, data: string) => {
      const bytes = base64Bytes(data);
      setState({ data: lamports === 0n || bytes.length === 0 ? null : decode(bytes), loading: false, error: null });
    };
    (async () => {
      const stream = await subscriptions
        .accountNotifications(address, { encoding: 'base64', commitment: 'confirmed' })
        .subscribe({ abortSignal: abort.signal });
      const { value } = await rpc
        .getAccountInfo(address, { encoding: 'base64', commitment: 'confirmed' })
        .send({ abortSignal: abort.signal });
      if (value) set(value.lamports, value.data[0]);
      else setState({ data: null, loading: false, error: null });
      for await (const { value: next } of stream) set(next.lamports, next.data[0]);
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) setState((prev) => ({ ...prev, loading: false, error: describeReadError(err) }));
    });
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rpc, subscriptions, address]);
  return state;
}

/** The network's Config account. */
export function useNetworkConfig(): Loadable<Config | null> {
  const [configAddress, setConfigAddress] = useState<Address | null>(null);
  useEffect(() => {
    findConfigPda().then(([pda]) => setConfigAddress(pda));
  }, []);
  return useAccount(configAddress, decodeConfig);
}

/** A wallet's IO balance in base units (0 without an IO account). */
export function useIoBalance(owner: Address | null, mint: Address | null): Loadable<bigint> & { account: Address | null } {
  const { rpc, subscriptions } = useChain();
  const [account, setAccount] = useState<Address | null>(null);
  const [state, setState] = useState<Loadable<bigint>>({ data: 0n, loading: true, error: null });
  useEffect(() => {
    if (!owner || !mint) return;
    const abort = new AbortController();
    (async () => {
      const ata = await ioAccountOf(owner, mint);
      setAccount(ata);
      const stream = await subscriptions
        .accountNotifications(ata, { encoding: 'jsonParsed', commitment: 'confirmed' })
        .subscribe({ abortSignal: abort.signal });
      const { value } = await rpc.getAccountInfo(ata, { encoding: 'base64', commitment: 'confirmed' }).send();
      setState({ data: value ? tokenAmount(base64Bytes(value.data[0])) : 0n, loading: false, error: null });
      for await (const { value: next } of stream) {
        const parsed = next.data as { parsed?: { info?: { tokenAmount?: { amount?: string } } } };
        setState({ data: BigInt(parsed.parsed?.info?.tokenAmount?.amount ?? '0'), loading: false, error: null });
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) setState((prev) => ({ ...prev, loading: false, error: describeReadError(err) }));
    });
    return () => abort.abort();
  }, [rpc, subscriptions, owner, mint]);
  return { ...state, account };
}

/** An SPL token account's amount (bytes 64..72). */
function tokenAmount(data: Uint8Array): bigint {
  if (data.length < 72) return 0n;
  return new DataView(data.buffer, data.byteOffset).getBigUint64(64, true);
}

/** The chain's clock (its latest block time), ticking once a second: what
 * the program compares deadlines with, which can trail this browser's clock. */
export function useNow(): number {
  const offset = useContext(ClockOffsetContext);
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000 + offset));
  useEffect(() => {
    const tick = () => setNow(Math.floor(Date.now() / 1000 + offset));
    tick();
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }, [offset]);
  return now;
}

const ClockOffsetContext = createContext(0);

/** Keeps the chain clock's offset from this browser's, re-read every 5 s. */
export function ChainClock({ children }: { children: ReactNode }) {
  const { rpc } = useChain();
  const [offset, setOffset] = useState(0);
  useEffect(() => {
    let stop = false;
    const read = async () => {
      try {
        const slot = await rpc.getSlot({ commitment: 'confirmed' }).send();
        const blockTime = await rpc.getBlockTime(slot).send();
        if (!stop && blockTime !== null) setOffset(Number(blockTime) - Date.now() / 1000);
      } catch {
        // Keep the last offset; reads show their own errors.
      }
    };
    read();
    const timer = setInterval(read, 5000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [rpc]);
  return createElement(ClockOffsetContext.Provider, { value: offset }, children);
}

function describeReadError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return `Could not read the chain (${text}). Is the validator running?`;
}
