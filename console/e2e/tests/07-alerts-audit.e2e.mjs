// Alerts and audit: the alert raised while a device was offline, and who did what.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, text, screenshot, env } from '../lib/harness.mjs';

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

test('the alerts page lists the device-offline alert as the API does', async () => {
  const { page } = b;
  const alerts = (await a.get('/api/v1/alerts')).items;
  const gone = alerts.find((x) => x.rule === 'device-gone' || x.ruleName === 'device-gone');
  assert.ok(gone, `the device-offline rule fired: ${JSON.stringify(alerts)}`);
  await signIn(page, '/alerts');
  await text(page.locator('main'), 'device-gone');
  await screenshot(page, 'alerts');
});

test('the audit page shows the approval and the deployment', async () => {
  const { page } = b;
  await signIn(page, '/audit');
  await text(page.locator('main'), env.pendingDevice);
  await text(page.locator('main'), env.app);
  await screenshot(page, 'audit');
});
