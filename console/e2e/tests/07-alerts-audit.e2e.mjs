// Alerts and audit: the alert raised while a device was offline, and who did what.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, text, until, screenshot, awayAgent, env } from '../lib/harness.mjs';

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

test('the alerts page lists the device-offline alert of the device that went away, as the API does', async () => {
  const { page, errors } = b;
  const away = awayAgent();
  const alert = await until('the device-offline alert in the API', async () =>
    (await a.get('/api/v1/alerts')).items.find((x) => JSON.stringify(x).includes('device-gone') && JSON.stringify(x).includes(away.id)),
  );
  await signIn(page, '/alerts');
  const row = page.getByTestId(`alert-row-${alert.fingerprint}`);
  await text(row, 'device-gone');
  await text(row, away.name);
  await screenshot(page, 'alerts');
  assert.deepEqual(errors, []);
});

test('the audit page shows the approval, the deployment and its upgrade, and filters them', async () => {
  const { page, errors } = b;
  await signIn(page, '/audit');
  const rows = page.getByTestId('audit-table').locator('tbody tr');
  await rows.filter({ hasText: 'device.approve' }).filter({ hasText: env.pendingDevice }).waitFor();
  await rows.filter({ hasText: 'deployment.create' }).filter({ hasText: env.app }).first().waitFor();
  await rows.filter({ hasText: 'deployment.upgrade' }).filter({ hasText: env.app }).first().waitFor();
  await screenshot(page, 'audit');

  await page.getByTestId('audit-filter').fill('device.approve');
  await page.getByTestId('audit-filter').press('Enter');
  await until('only approvals listed', async () => {
    const shown = await rows.allTextContents();
    return shown.length === 1 && shown[0].includes(env.pendingDevice);
  });
  assert.deepEqual(errors, []);
});
