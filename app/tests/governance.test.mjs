// A token holder in the browser: stakes for voting weight, proposes a fee
// change, votes for it, and once voting ends and the timelock passes,
// finalizes and executes it; the network's fee is then the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, openConsole, shot } from './harness.mjs';

test('a voter proposes a fee change, votes, and the proposal executes', async () => {
  const { page } = await openConsole('voter');
  await page.goto(`${CONSOLE}/#/supplier`);
  await page.locator('[name="stakeAmount"]').fill('10000');
  await page.getByTestId('stake-panel').getByRole('button', { name: 'Stake', exact: true }).click();
  await page.getByTestId('staked').filter({ hasText: '10,000 IO' }).waitFor();

  await page.goto(`${CONSOLE}/#/governance`);
  await page.locator('[name="proposalTitle"]').fill('Raise the network fee to 3%');
  await page.locator('[name="proposalParam"]').selectOption('feeBps');
  await page.locator('[name="proposalValue"]').fill('300');
  await page.getByTestId('propose').click();
  const card = page.getByTestId('proposal').filter({ hasText: 'Raise the network fee to 3%' });
  await card.waitFor();
  assert.match(await card.textContent(), /feeBps 250 → 300/);

  await card.getByRole('button', { name: 'Vote Yes' }).click();
  await card.getByTestId('your-vote').filter({ hasText: 'You voted Yes with 10,000 IO' }).waitFor();
  // The vote record and the proposal's tally are two accounts: their
  // updates reach the page separately (CI once read the tally between them).
  const yes = card.getByTestId('tally-yes');
  await yes.filter({ hasText: /^10,000 IO$/ }).waitFor();
  assert.equal(await yes.textContent(), '10,000 IO');
  await shot(page, 'governance');

  // Voting lasts 60 s on the local network, then a 10 s timelock.
  await card.getByRole('button', { name: 'Finalize' }).click({ timeout: 90_000 });
  await card.getByTestId('proposal-status').filter({ hasText: 'Passed' }).waitFor();
  await card.getByRole('button', { name: 'Execute' }).click({ timeout: 30_000 });
  await card.getByTestId('proposal-status').filter({ hasText: 'Executed' }).waitFor();

  await page.goto(`${CONSOLE}/#/explorer`);
  await page.getByText('3% / 0.5% of each payment').waitFor();
  await page.close();
});
