// The program's listings and jobs, live.
import { useMemo } from 'react';
import { getAddressEncoder, type Address } from '@solana/kit';
import { useNetworkConfig, useNow, useProgramAccounts } from './accounts';
import { decodeJob, decodeListing, GPU_LISTING_DISCRIMINATOR, JOB_DISCRIMINATOR } from '../lib/program';
import { offerOf, type Offer } from '../lib/market';

export function useOffers(): { offers: Offer[]; loading: boolean; error: string | null } {
  const listings = useProgramAccounts([{ offset: 0, bytes: GPU_LISTING_DISCRIMINATOR }], decodeListing, 'listings');
  const config = useNetworkConfig();
  const now = useNow();
  const timeout = config.data?.params.heartbeatTimeoutSecs ?? 60;
  const offers = useMemo(
    () => [...listings.data].map(([address, listing]) => offerOf(address, listing, now, Number(timeout))),
    [listings.data, now, timeout],
  );
  return { offers, loading: listings.loading, error: listings.error ?? config.error };
}

/** Every job, or one owner's (the owner is the first field after the discriminator). */
export function useJobs(owner: Address | null) {
  const filters = [{ offset: 0, bytes: JOB_DISCRIMINATOR }];
  if (owner) filters.push({ offset: 8, bytes: new Uint8Array(getAddressEncoder().encode(owner)) });
  return useProgramAccounts(filters, decodeJob, `jobs:${owner ?? 'all'}`);
}
