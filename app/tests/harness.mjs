// What every browser test shares: the cluster scripts/e2e-console started,
// a Chromium per test file, a console page with the test wallet of one of
// the local network's demo keys connected, and reads of the chain.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { address as toAddress, createSolanaRpc, getAddressEncoder, getProgramDerivedAddress, createKeyPairFromBytes, getAddressFromPublicKey } from '@solana/kit';
import { installTestWallet } from './wallet.mjs';

export const CONSOLE = process.env.IOGRID_CONSOLE_URL;
export const RPC = process.env.IOGRID_RPC_URL;
const KEYS = process.env.IOGRID_KEYS;
const SHOTS = process.env.IOGRID_CONSOLE_SHOTS;
if (!CONSOLE || !RPC || !KEYS) throw new Error('run through scripts/e2e-console');

export const rpc = createSolanaRpc(RPC);
export const config = await (await fetch(`${CONSOLE}/config.json`)).json();
export const PROGRAM = toAddress(config.programId);

let browser;
/** Abort controllers of subscriptions a test opened, closed after the file. */
export const watchers = new Set();
before(async () => {
  browser = await chromium.launch({ executablePath: process.env.IOGRID_CHROMIUM, args: ['--no-sandbox'] });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  watchers.forEach((abort) => abort.abort());
  await browser?.close();
});

export function keyFile(name) {
  return join(KEYS, `${name}.json`);
}

export async function addressOfKey(name) {
  const keyPair = await createKeyPairFromBytes(new Uint8Array(JSON.parse(readFileSync(keyFile(name), 'utf8'))));
  return getAddressFromPublicKey(keyPair.publicKey);
}

/** A console page with `name`'s key in the test wallet, connected. */
export async function openConsole(name = 'user') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  page.on('console', (msg) => msg.type() === 'error' && console.error('page console:', msg.text()));
  const wallet = await installTestWallet(page, keyFile(name), config.chain);
  await page.goto(CONSOLE);
  await page.getByRole('button', { name: 'Connect iogrid test wallet' }).click();
  await page.getByTestId('wallet').waitFor();
  return { page, wallet };
}

export async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export async function ioBalance(owner) {
  const encoder = getAddressEncoder();
  const [mint] = await getProgramDerivedAddress({ programAddress: PROGRAM, seeds: [new TextEncoder().encode('mint')] });
  const [ata] = await getProgramDerivedAddress({
    programAddress: toAddress('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL'),
    seeds: [encoder.encode(owner), encoder.encode(toAddress('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA')), encoder.encode(mint)],
  });
  const { value } = await rpc.getTokenAccountBalance(ata, { commitment: 'confirmed' }).send();
  return BigInt(value.amount);
}

/** IO text as the console prints it ("3.6 IO", "1,234.5 IO") → base units. */
export function parseIoText(text) {
  const match = /([\d,]+)(?:\.(\d+))? IO/.exec(text);
  assert.ok(match, `an IO amount in ${JSON.stringify(text)}`);
  return BigInt(match[1].replaceAll(',', '')) * 1_000_000n + BigInt((match[2] ?? '').padEnd(6, '0'));
}
