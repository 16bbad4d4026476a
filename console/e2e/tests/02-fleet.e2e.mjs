// The Fleet page says what the API says: the summary sentence and the count per status.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, until, screenshot, env } from '../lib/harness.mjs';

const STATUSES = { ONLINE: 'online', OFFLINE: 'offline', NEVER_SEEN: 'neverSeen', PENDING: 'pending' };

let b;
let a;
before(async () => {
  b = await browser();
  a = await api();
});
after(async () => {
  await b?.close();
  await a?.dispose();
});

test('the sentence and the counts per status match GET /api/v1/fleet/summary', async () => {
  const { page, errors } = b;
  await signIn(page, '/');
  const sentence = page.getByTestId('fleet-sentence');
  await sentence.waitFor();
  // The fleet is settled (every agent and simulated device online, one waiting for approval), so
  // page and API agree once both have the same view.
  const agreed = await until('the Fleet page to match the API', async () => {
    const s = await a.get('/api/v1/fleet/summary');
    if ((await sentence.textContent()).trim() !== s.sentence) return false;
    for (const [status, field] of Object.entries(STATUSES)) {
      const shown = (await page.getByTestId(`status-count-${status}`).locator('.n').textContent()).replace(/[^0-9]/g, '');
      if (Number(shown) !== s[field]) return false;
    }
    return s;
  });
  assert.equal(agreed.online, env.agents.length + env.simulated);
  assert.equal(agreed.pending, 1);
  assert.match(agreed.sentence, /\d/);
  await screenshot(page, 'fleet');

  // A count links to the devices with that status.
  await page.getByTestId('status-count-PENDING').click();
  await page.getByTestId(`pending-row-${env.pendingDevice}`).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('status'), 'PENDING');
  assert.deepEqual(errors, []);
});
