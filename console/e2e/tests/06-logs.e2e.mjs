// Live logs: the device page shows the app and opens its log, where new lines keep appearing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, text, until, screenshot, env } from '../lib/harness.mjs';

let b;
before(async () => {
  b = await browser();
});
after(async () => {
  await b?.close();
});

test('the device page shows its apps and follows an app log live', async () => {
  const { page, errors } = b;
  const id = env.agentIds[0];
  await signIn(page, `/devices/${encodeURIComponent(id)}`);
  await text(page.getByTestId('device-status'), 'ONLINE');
  await text(page.getByTestId('device-apps'), env.app);
  await text(page.getByTestId('device-apps'), 'READY');
  await page.getByTestId('device-events').waitFor();
  // The agent's telemetry (this machine's figures) drawn as charts.
  await page.getByTestId('device-metrics').locator('svg').first().waitFor({ timeout: 30_000 });
  await screenshot(page, 'device');
  await page.locator('#metrics').getByRole('button', { name: '1h' }).click();
  await until('the last hour chosen', async () => new URL(page.url()).searchParams.get('since') === '1h');
  await page.getByTestId('device-metrics').locator('svg').first().waitFor();
  await page.evaluate(() => {
    document.querySelector('#metrics').scrollIntoView({ block: 'start' });
    window.scrollBy(0, -64); // below the navigation bar
  });
  await screenshot(page, 'device-metrics');

  await page.getByTestId('device-logs-open').click();
  const logs = page.getByTestId('device-logs');
  // The demo runtime writes what it recorded, then a status line every 2 s.
  await text(logs, 'demo runtime (nothing runs): recorded revision', { timeout: 30_000 });
  const lines = async () => ((await logs.textContent()).match(/demo runtime \(nothing runs\)/g) ?? []).length;
  const before = await lines();
  await until('new log lines to appear', async () => (await lines()) >= before + 2, { timeout: 30_000 });
  await page.locator('#logs').scrollIntoViewIfNeeded();
  await screenshot(page, 'device-logs');
  assert.deepEqual(errors, []);
});

test('the devices list shows the app on each device that runs it', async () => {
  const { page, errors } = b;
  await page.getByTestId('nav-devices').click();
  await page.getByTestId('devices-filter-selector').fill('env=demo');
  await page.getByTestId('devices-filter-selector').press('Enter');
  await page.getByTestId('devices-filter-selector').blur();
  for (const id of env.agentIds) {
    await text(page.getByTestId(`device-row-${id}`), env.app);
  }
  await screenshot(page, 'devices');
  assert.deepEqual(errors, []);
});
