// What the marketplace and the deploy page compute from listings: which
// listings could take a job now, what it would cost, and, when none can,
// why, in the terms the user chose.
import type { Address } from '@solana/kit';
import { asciiText, formatIo } from './units';
import { listingIsStale, type GpuListing } from './program';

export type Offer = {
  address: Address;
  model: string;
  region: string;
  vramGb: number;
  gpus: number;
  gpusFree: number;
  price: bigint;
  status: 'Available' | 'Busy' | 'Offline' | 'Silent';
  lastHeartbeat: number;
  jobsCompleted: number;
  jobsFaulted: number;
  stakeLocked: bigint;
  owner: Address;
};

export function offerOf(address: Address, listing: GpuListing, now: number, heartbeatTimeout: number): Offer {
  const status = listing.status === 2 ? 'Offline' : listingIsStale(listing, now, heartbeatTimeout) ? 'Silent' : listing.status === 1 ? 'Busy' : 'Available';
  return {
    address,
    model: asciiText(listing.spec.gpuModel),
    region: asciiText(listing.spec.region),
    vramGb: listing.spec.vramGb,
    gpus: listing.spec.gpuCount,
    gpusFree: listing.gpusFree,
    price: listing.spec.pricePerGpuHour,
    status,
    lastHeartbeat: Number(listing.lastHeartbeat),
    jobsCompleted: listing.jobsCompleted,
    jobsFaulted: listing.jobsFaulted,
    stakeLocked: listing.stakeLocked,
    owner: listing.owner,
  };
}

export type Request = {
  model: string;
  region: string;
  minVramGb: number;
  gpus: number;
  maxPrice: bigint;
  maxListings: number;
};

export type Fit = {
  /** Listings that would take the job, cheapest first, with the GPUs each gives. */
  plan: { offer: Offer; gpus: number }[];
  matched: boolean;
  /** GPUs the feasible listings offer now (within maxListings). */
  gpusOffered: number;
  /** Price × GPU for each planned GPU: what an hour costs at those prices. */
  hourlyCost: bigint;
  /** Why not, when it does not match. */
  reason: string | null;
};

function online(offer: Offer): boolean {
  return offer.status === 'Available' || offer.status === 'Busy';
}

/** The cheapest set of at most `maxListings` listings covering the job, as
 * the keeper's matcher picks it (fit by model, VRAM, region, price, free
 * GPUs; cheaper first, then the better record). */
export function fitJob(offers: Offer[], request: Request): Fit {
  const fits = (o: Offer) =>
    online(o) &&
    o.gpusFree > 0 &&
    (!request.model || o.model === request.model) &&
    (!request.region || o.region === request.region) &&
    o.vramGb >= request.minVramGb;
  const shapeFits = offers.filter(fits);
  const affordable = shapeFits
    .filter((o) => o.price <= request.maxPrice)
    .sort((a, b) => (a.price === b.price ? b.jobsCompleted - b.jobsFaulted - (a.jobsCompleted - a.jobsFaulted) : a.price < b.price ? -1 : 1));
  // Fewest listings first: take the largest free blocks among the cheapest.
  const plan: Fit['plan'] = [];
  let missing = request.gpus;
  for (const offer of affordable) {
    if (missing === 0 || plan.length === request.maxListings) break;
    const take = Math.min(offer.gpusFree, missing);
    plan.push({ offer, gpus: take });
    missing -= take;
  }
  const gpusOffered = request.gpus - missing;
  const hourlyCost = plan.reduce((sum, p) => sum + p.offer.price * BigInt(p.gpus), 0n);
  const matched = missing === 0;
  return { plan, matched, gpusOffered, hourlyCost, reason: matched ? null : explain(request, shapeFits, gpusOffered) };
}

function describeShape(request: Request): string {
  const model = request.model || 'GPU';
  const where = request.region ? ` in ${request.region}` : '';
  const vram = request.minVramGb ? ` with ≥ ${request.minVramGb} GB` : '';
  return `${request.gpus} × ${model}${vram}${where} at ≤ ${formatIo(request.maxPrice)}/GPU-h`;
}

function explain(request: Request, shapeFits: Offer[], gpusOffered: number): string {
  const needs = `Needs ${describeShape(request)}`;
  if (shapeFits.length === 0) return `${needs}: no online listing has free GPUs of that model, VRAM and region.`;
  const cheapest = shapeFits.reduce((min, o) => (o.price < min ? o.price : min), shapeFits[0].price);
  if (gpusOffered === 0) {
    return `${needs}: the cheapest matching listing asks ${formatIo(cheapest)}/GPU-h. Raise the max price to at least that.`;
  }
  return `${needs}: feasible listings offer ${gpusOffered} within ${request.maxListings} listing(s). Ask for fewer GPUs, allow more listings, or raise the max price.`;
}

/** GPUs listed and free, by a key (model or region), for the supply summary. */
export function supplyBy(offers: Offer[], key: (o: Offer) => string): { key: string; gpus: number; free: number }[] {
  const rows = new Map<string, { key: string; gpus: number; free: number }>();
  for (const offer of offers.filter(online)) {
    const row = rows.get(key(offer)) ?? { key: key(offer), gpus: 0, free: 0 };
    row.gpus += offer.gpus;
    row.free += offer.gpusFree;
    rows.set(row.key, row);
  }
  return [...rows.values()].sort((a, b) => b.gpus - a.gpus);
}
