// The devices list: filtering by selector and by status, and paging through a fleet larger than
// one page, each as the API counts it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, text, until, rowIds, screenshot, env } from '../lib/harness.mjs';

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

async function shownRows(page) {
  await page.locator('[data-testid="devices-table"][aria-busy="false"]').waitFor();
  return rowIds(page, 'device-row-');
}

test('a selector typed in the filter shows exactly the matching devices', async () => {
  const { page } = b;
  await signIn(page, '/devices');
  await page.getByTestId('devices-filter-selector').fill('site=store-17');
  await page.getByTestId('devices-filter-selector').press('Enter');
  const expected = (await a.get('/api/v1/devices?selector=site%3Dstore-17&limit=100')).items.map((d) => d.id).sort();
  assert.ok(expected.length >= 2, 'the fleet has several devices at store-17');
  await until('the rows of site=store-17', async () => JSON.stringify((await shownRows(page)).sort()) === JSON.stringify(expected));
  assert.equal(new URL(page.url()).searchParams.get('selector'), 'site=store-17');
  await text(page.getByTestId('devices-total'), `of ${expected.length}`);
  await screenshot(page, 'devices-filtered');
});

test('the status filter and a selector combine, and an impossible one shows nothing', async () => {
  const { page } = b;
  await page.goto('/devices?selector=env%3Dsim');
  await page.getByTestId('devices-filter-status').selectOption('ONLINE');
  await text(page.getByTestId('devices-total'), `of ${env.simulated}`);
  assert.equal(new URL(page.url()).searchParams.get('status'), 'ONLINE');
  for (const status of await page.$$eval('[data-testid^="device-row-"]', (els) => els.map((e) => e.dataset.status))) {
    assert.equal(status, 'ONLINE');
  }
  await page.getByTestId('devices-filter-status').selectOption('OFFLINE');
  await text(page.getByTestId('devices-total'), '0 of 0');
  assert.deepEqual(await shownRows(page), []);
});

test('pages of the whole fleet: the total and the rows follow the API, Next shows the others', async () => {
  const { page } = b;
  await page.goto('/devices?sort=name');
  const first = await a.get('/api/v1/devices?sort=name&limit=50&count=true');
  assert.ok(first.total > 50, `more than one page of devices (${first.total})`);
  await text(page.getByTestId('devices-total'), `1–50 of ${first.total}`);
  assert.deepEqual(await shownRows(page), first.items.map((d) => d.id));
  await screenshot(page, 'devices-page-1');

  await page.getByTestId('devices-pager-next').click();
  const second = await a.get('/api/v1/devices?sort=name&limit=50&offset=50&count=true');
  await text(page.getByTestId('devices-total'), `51–${50 + second.items.length} of ${first.total}`);
  await until('the second page', async () => JSON.stringify(await shownRows(page)) === JSON.stringify(second.items.map((d) => d.id)));
  assert.equal(new URL(page.url()).searchParams.get('page'), '2');
  assert.ok(await page.getByTestId('devices-pager-next').isDisabled(), 'no third page');
  await page.getByTestId('devices-pager-prev').click();
  await text(page.getByTestId('devices-total'), `1–50 of ${first.total}`);
});
