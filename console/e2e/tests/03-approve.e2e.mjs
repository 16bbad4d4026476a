// Approving a device that waits for approval: its row goes from PENDING to ONLINE once the agent,
// which asks again every few seconds, connects, without reloading the page.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, attr, env } from '../lib/harness.mjs';

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

test('approving the pending device enrolls it and its row turns ONLINE live', async () => {
  const { page, errors } = b;
  const id = env.pendingDevice;
  assert.equal((await a.get(`/api/v1/devices/${id}`)).status, 'PENDING');
  await signIn(page, '/devices?selector=site%3Dlab-1');
  const row = page.getByTestId(`device-row-${id}`);
  await attr(row, 'data-status', 'PENDING');
  await page.getByTestId(`pending-row-${id}`).waitFor();

  await page.getByTestId(`approve-${id}`).click();
  // The waiting list empties at once; the row follows the live stream as the agent connects.
  await page.getByTestId(`pending-row-${id}`).waitFor({ state: 'detached' });
  await attr(row, 'data-status', 'ONLINE', { timeout: 45_000 });
  assert.equal((await a.get(`/api/v1/devices/${id}`)).status, 'ONLINE');
  assert.deepEqual(errors, []);
});
