// How long the console's devices page takes to show its first row: a fresh page load of
// /devices (signed in, the bundle in the browser's cache) timed in the page itself, from
// navigation start (performance.timeOrigin) to the first animation frame after the first
// device row entered the table. One warm-up load, then RUNS measured ones; prints JSON with the
// median. Used by bench/console.sh; EDGEFLEET_URL and EDGEFLEET_TOKEN name the controller.
import { browser, env } from '../lib/harness.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const paths = (process.env.PATHS ?? '/devices').split(',');

const b = await browser();
const { context, page } = b;
await context.addInitScript((token) => {
  sessionStorage.setItem('edgefleet.token', token);
  const seen = () => document.querySelector('[data-testid^="device-row-"]');
  const obs = new MutationObserver(() => {
    if (seen() && window.__firstRow === undefined) {
      window.__firstRow = null;
      obs.disconnect();
      requestAnimationFrame(() => (window.__firstRow = performance.now()));
    }
  });
  obs.observe(document, { childList: true, subtree: true });
}, env.token);

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const result = { url: env.url, runs: RUNS, pages: {} };
for (const path of paths) {
  const times = [];
  const apiTimes = [];
  for (let i = 0; i <= RUNS; i++) {
    await page.goto(path);
    await page.waitForFunction(() => typeof window.__firstRow === 'number', null, { timeout: 60_000 });
    const t = await page.evaluate(() => window.__firstRow);
    // Where the time went: the page's request for the first page of devices (issued once the
    // bundle ran) and its answer.
    const api = await page.evaluate(() => {
      const e = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/v1/devices?') && r.name.includes('count=true'));
      return e ? { requested: e.startTime, answered: e.responseEnd } : null;
    });
    const rows = await page.locator('[data-testid^="device-row-"]').count();
    const total = await page.getByTestId('devices-total').textContent();
    if (i > 0) {
      // the first load warms the controller and the browser's cache
      times.push(t);
      if (api) apiTimes.push(api.answered - api.requested);
    }
    const where = api ? `; list requested at ${api.requested.toFixed(0)} ms, answered in ${(api.answered - api.requested).toFixed(0)} ms` : '';
    console.error(`${path} ${i === 0 ? 'warm-up' : `run ${i}`}: first row after ${t.toFixed(0)} ms (${rows} rows, ${total}${where})`);
  }
  result.pages[path] = {
    firstRowMs: times.map((t) => Math.round(t)),
    medianMs: Math.round(median(times)),
    listAnswerMs: apiTimes.map((t) => Math.round(t)),
    listAnswerMedianMs: apiTimes.length ? Math.round(median(apiTimes)) : null,
  };
}
console.log(JSON.stringify(result, null, 2));
await b.close();
