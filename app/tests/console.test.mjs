// The console in Debian's Chromium against a local validator, the keeper
// and two workers (scripts/e2e-console starts them): a user deploys a
// 2-GPU job from the browser, sees it run, prove and settle live, and reads
// a receipt that matches the chain; a declined signature and an
// over-budget deploy say why and send nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { address as toAddress, createSolanaRpcSubscriptions, getAddressEncoder, getBase58Decoder, getBase64Encoder } from '@solana/kit';
import { CONSOLE, PROGRAM, RPC, config, ioBalance, openConsole, parseIoText, rpc, shot, watchers } from './harness.mjs';

const JOB_DISCRIMINATOR = new Uint8Array([75, 124, 80, 203, 161, 180, 202, 80]);
const JOB_STATUS = ['Open', 'Running', 'Proven', 'Approved', 'Disputed', 'Resolved'];

async function jobsOf(owner) {
  const base58 = getBase58Decoder();
  const accounts = await rpc
    .getProgramAccounts(PROGRAM, {
      encoding: 'base64',
      commitment: 'confirmed',
      filters: [
        { memcmp: { offset: 0n, bytes: base58.decode(JOB_DISCRIMINATOR), encoding: 'base58' } },
        { memcmp: { offset: 8n, bytes: base58.decode(getAddressEncoder().encode(owner)), encoding: 'base58' } },
      ],
    })
    .send();
  return accounts.map((a) => a.pubkey);
}

async function fillDeploy(page, fields) {
  await page.goto(`${CONSOLE}/#/deploy`);
  for (const [name, value] of Object.entries(fields)) {
    const input = page.locator(`[name="${name}"]`);
    if (name === 'workload') await input.selectOption(value);
    else await input.fill(value);
  }
}

/** When each status change of `job` reached this process over the websocket (confirmed). */
function watchChain(job) {
  const seen = [];
  const abort = new AbortController();
  watchers.add(abort);
  (async () => {
    const subscriptions = createSolanaRpcSubscriptions(RPC.replace('http', 'ws').replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1}`));
    const stream = await subscriptions
      .accountNotifications(job, { encoding: 'base64', commitment: 'confirmed' })
      .subscribe({ abortSignal: abort.signal });
    for await (const { value } of stream) {
      const data = getBase64Encoder().encode(value.data[0]);
      const status = data.length ? JOB_STATUS[data[STATUS_OFFSET]] : 'Settled';
      const at = Date.now();
      if (seen.at(-1)?.status !== status) seen.push({ status, at });
    }
  })().catch(() => {});
  return { seen, stop: () => abort.abort() };
}

// Where the Job header keeps its status byte, from the IDL's field list
// (discriminator, then fixed-size fields in order).
const STATUS_OFFSET = (() => {
  const idl = JSON.parse(readFileSync(process.env.IOGRID_IDL, 'utf8'));
  const size = (type) => {
    if (typeof type === 'string') return { pubkey: 32, u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 }[type];
    if (type.array) return size(type.array[0]) * type.array[1];
    throw new Error(`no fixed size for ${JSON.stringify(type)}`);
  };
  let offset = 8;
  for (const field of idl.types.find((t) => t.name === 'Job').type.fields) {
    if (field.name === 'status') return offset;
    offset += size(field.type);
  }
  throw new Error('the IDL has no Job.status');
})();

test('a user deploys a 2-GPU job from the browser and sees it settle with the right receipt', async () => {
  const { page, wallet } = await openConsole();
  await page.getByTestId('listings').waitFor();
  await page.getByText('2 free of 2').first().waitFor();
  await page.getByTestId('listings').getByTestId('uptime').first().waitFor();
  await shot(page, 'marketplace');

  const before = await ioBalance(wallet.address);
  await fillDeploy(page, { gpus: '2', hours: '0.05', maxPrice: '36', workload: '__custom__', uri: 'sim:cpu:3' });
  const escrowText = await page.getByTestId('escrow').textContent();
  assert.equal(escrowText, '3.6 IO', 'escrow = 36 IO × 2 GPUs × 180 s / 3600');
  await page.getByTestId('match').waitFor();
  await shot(page, 'deploy');

  await page.getByTestId('deploy').click();
  await page.waitForURL(/#\/jobs\/[1-9A-HJ-NP-Za-km-z]{32,44}$/, { timeout: 30_000 });
  const job = toAddress(page.url().split('/').pop());
  const chain = watchChain(job);
  // Record when the page shows each status, to compare with the chain.
  await page.getByTestId('job-status').waitFor();
  await page.evaluate(() => {
    window.iogridShown = [];
    const note = () => {
      const text = document.querySelector('[data-testid="job-status"]')?.textContent;
      if (text && window.iogridShown.at(-1)?.status !== text) window.iogridShown.push({ status: text, at: Date.now() });
    };
    note();
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const status = page.getByTestId('job-status');
  await status.filter({ hasText: /Running|Proven|Settled/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('assignments').waitFor({ timeout: 60_000 }).catch(() => {});
  await shot(page, 'job-running');
  await status.filter({ hasText: 'Settled' }).waitFor({ timeout: 120_000 });
  await page.getByTestId('receipt').waitFor({ timeout: 30_000 });
  await shot(page, 'job-receipt');
  chain.stop();

  // The receipt adds up, and matches what left the wallet.
  const amounts = async (id) => Promise.all((await page.getByTestId(id).allTextContents()).map(parseIoText));
  const nets = await amounts('receipt-net');
  const [fee] = await amounts('receipt-fee');
  const [burned] = await amounts('receipt-burned');
  const [refund] = await amounts('receipt-refund');
  const [deposit] = await amounts('receipt-deposit');
  assert.equal(nets.length, 2, 'one payment per supplier');
  assert.equal(deposit, 3_600_000n);
  assert.equal(nets.reduce((a, b) => a + b, 0n) + fee + burned + refund, deposit, 'payouts + fee + burn + refund = deposit');
  assert.ok(fee > 0n && burned > 0n, 'fee and burn taken from the payments');
  const after = await ioBalance(wallet.address);
  assert.equal(before - after, deposit - refund, 'the wallet paid exactly what the receipt says');

  // Each status change the page showed, against when the chain confirmed it.
  const shown = await page.evaluate(() => window.iogridShown);
  const lags = chain.seen
    .map(({ status: s, at }) => ({ status: s, lag: (shown.find((x) => x.status === s)?.at ?? NaN) - at }))
    .filter(({ lag }) => Number.isFinite(lag));
  console.log(`status changes shown after the chain confirmed them (ms): ${JSON.stringify(lags)}`);
  assert.ok(lags.length >= 1, `the page followed the job's status (${JSON.stringify({ chain: chain.seen, shown })})`);
  for (const { status: s, lag } of lags) assert.ok(lag <= 1000, `${s} shown ${lag} ms after confirmation (budget 1 s)`);

  await page.goto(`${CONSOLE}/#/explorer`);
  await page.getByTestId('supply').waitFor();
  await shot(page, 'explorer');
  await page.goto(`${CONSOLE}/#/jobs`);
  await page.getByTestId('my-jobs').waitFor();
  await shot(page, 'my-jobs');
  await page.close();
});

test('a declined signature says so and sends nothing', async () => {
  const { page, wallet } = await openConsole();
  const jobs = (await jobsOf(wallet.address)).length;
  const balance = await ioBalance(wallet.address);
  // A template workload: the browser uploads its spec to the keeper (a
  // cross-origin PUT) before the wallet is asked.
  const template = config.templates.find((t) => t.name === 'tune');
  assert.ok(template, 'the console offers the tune template');
  await fillDeploy(page, { gpus: '1', hours: '0.05', maxPrice: '36', workload: 'tune' });
  await page.getByTestId('match').waitFor();
  wallet.rejecting = true;
  await page.getByTestId('deploy').click();
  await page.getByRole('alert').filter({ hasText: 'You declined the request in your wallet. Nothing was sent.' }).waitFor();
  const stored = await fetch(`${config.keeperUrl}/v1/specs/${template.sha256}`);
  assert.equal(stored.status, 200, 'the keeper holds the spec under the hash the browser computed');
  assert.equal(wallet.asked, 1, 'the wallet was asked once');
  assert.equal(wallet.signed, 0);
  assert.equal((await jobsOf(wallet.address)).length, jobs, 'no job was created');
  assert.equal(await ioBalance(wallet.address), balance, 'no IO moved');
  assert.match(page.url(), /#\/deploy$/, 'the user stays on the form');
  await page.close();
});

test('an over-budget deploy says what the wallet holds and cannot be sent', async () => {
  const { page, wallet } = await openConsole();
  const balance = await ioBalance(wallet.address);
  // 2 GPUs × 36 IO × 5,000 h = 360,000 IO; the wallet holds about 100,000.
  await fillDeploy(page, { gpus: '2', hours: '5000', maxPrice: '36', workload: '__custom__', uri: 'sim:cpu:3' });
  const alert = page.getByRole('alert').filter({ hasText: 'This job escrows 360,000 IO but your wallet holds' });
  await alert.waitFor();
  assert.ok(await page.getByTestId('deploy').isDisabled(), 'the deploy button is disabled');
  await shot(page, 'deploy-over-budget');
  assert.equal(wallet.asked, 0, 'the wallet was never asked');
  assert.equal(await ioBalance(wallet.address), balance);
  await page.close();
});
