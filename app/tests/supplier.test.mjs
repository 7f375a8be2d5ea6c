// A supplier in the browser: stakes more IO, lists a GPU with a worker key,
// claims the emission rewards its running listing earned, and starts an
// unstake whose cooldown the page shows. Each step is checked on-chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, addressOfKey, ioBalance, openConsole, parseIoText, shot } from './harness.mjs';

test('a supplier stakes, lists GPUs and claims rewards from the browser', async () => {
  // supplier-1 staked 1,000 IO and listed one H100 whose worker runs (scripts/e2e-console).
  const { page, wallet } = await openConsole('supplier-1');
  await page.goto(`${CONSOLE}/#/supplier`);
  const staked = page.getByTestId('staked');
  await staked.filter({ hasText: '1,000 IO' }).waitFor();
  const panel = page.getByTestId('stake-panel');

  const beforeStake = await ioBalance(wallet.address);
  await page.locator('[name="stakeAmount"]').fill('250');
  await panel.getByRole('button', { name: 'Stake', exact: true }).click();
  await staked.filter({ hasText: '1,250 IO' }).waitFor();
  assert.equal(beforeStake - (await ioBalance(wallet.address)), 250_000_000n, 'exactly 250 IO left the wallet');

  const worker = await addressOfKey('worker-3');
  await page.locator('[name="worker"]').fill(worker);
  await page.locator('[name="listModel"]').fill('RTX-4090');
  await page.locator('[name="vramGb"]').fill('24');
  await page.locator('[name="listRegion"]').fill('web');
  await page.locator('[name="listPrice"]').fill('5');
  await page.getByTestId('list-gpus').click();
  const rows = page.getByTestId('my-listing');
  await rows.nth(1).waitFor();
  assert.match(await rows.nth(1).textContent(), /RTX-4090 \(24 GB, web\)5 IO/);

  // The first listing's worker has heartbeated every 5 s since the start.
  await rows.nth(0).getByTestId('uptime').filter({ hasText: /^uptime 100% over \d+ (s|min)$/ }).waitFor();
  // It has rewards to claim.
  const beforeClaim = await ioBalance(wallet.address);
  await rows.nth(0).getByRole('button', { name: 'Claim rewards' }).click();
  const claimed = rows.nth(0).getByTestId('claimed');
  await claimed.filter({ hasNotText: /^0 IO$/ }).waitFor();
  const paid = parseIoText(await claimed.textContent());
  assert.ok(paid > 0n, 'the running listing earned emission');
  assert.equal((await ioBalance(wallet.address)) - beforeClaim, paid, 'the wallet received exactly what the listing shows claimed');

  await page.locator('[name="stakeAmount"]').fill('100');
  await panel.getByRole('button', { name: 'Request unstake' }).click();
  await page.getByTestId('unbonding').filter({ hasText: /100 IO/ }).waitFor();
  assert.match(await page.getByTestId('unbonding').textContent(), /ready in/);
  await staked.filter({ hasText: '1,150 IO' }).waitFor();
  await shot(page, 'supplier');
  await page.close();
});
