// What every browser test shares: the controller under test (from the environment the launcher's
// ConsoleBrowserIT sets), a fresh Chromium profile per test file, the admin API, polling and
// screenshots.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, request } from 'playwright-core';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: these tests run from ConsoleBrowserIT (or set it yourself, see console/e2e/README.md)`);
  return v;
}

export const env = {
  get url() { return required('EDGEFLEET_URL'); },
  get token() { return required('EDGEFLEET_TOKEN'); },
  get chromium() { return process.env.EDGEFLEET_CHROMIUM || '/usr/bin/chromium'; },
  get screenshots() { return process.env.EDGEFLEET_SCREENSHOTS || ''; },
  get control() { return required('EDGEFLEET_CONTROL'); },
  get pendingDevice() { return required('EDGEFLEET_PENDING_DEVICE'); },
  get agents() { return required('EDGEFLEET_AGENTS').split(','); },
  get agentIds() { return required('EDGEFLEET_AGENT_IDS').split(','); },
  get app() { return required('EDGEFLEET_APP'); },
  get simulated() { return Number(required('EDGEFLEET_SIMULATED')); },
};

/** How long a page may take to show what the controller already knows. */
export const SHOWN = 15_000;

/** Chromium flags: headless on a machine whose network is closed, no sandbox (containers). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A Chromium with a profile of its own (deleted on close) and a 1280x800 window; `page` has the
 * controller's URL as base. Console errors of the page are collected in `errors`.
 */
export async function browser({ executablePath = env.chromium } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'edgefleet-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true, // the controller's own CA signed its certificate
    viewport: { width: 1280, height: 800 },
    baseURL: env.url,
    timeout: 60_000,
  });
  context.setDefaultTimeout(SHOWN);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed request is reported with its address below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && r.status() !== 401) errors.push(`HTTP ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The admin API, as the console's own calls see it. */
export async function api() {
  const ctx = await request.newContext({
    baseURL: env.url,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { Authorization: `Bearer ${env.token}` },
  });
  const call = async (method, path, body) => {
    const res = await ctx.fetch(path, { method, data: body === undefined ? undefined : body });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status(), body: json };
  };
  const ok = async (method, path, body, expected = [200, 201]) => {
    const r = await call(method, path, body);
    if (!expected.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call,
    get: (path) => ok('GET', path),
    post: (path, body = {}) => ok('POST', path, body),
    dispose: () => ctx.dispose(),
  };
}

/**
 * Polls `probe` until it returns a truthy value (which it returns), or fails after `timeout` ms
 * with `what` and the last value or error seen.
 */
export async function until(what, probe, { timeout = 30_000, every = 250 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Waits until the element's text matches (a string it contains, or a RegExp); returns the text. */
export async function text(locator, expected, { timeout = SHOWN } = {}) {
  await locator.waitFor({ state: 'visible', timeout });
  return until(
    `${locator} to show ${expected}`,
    async () => {
      const t = (await locator.textContent()) ?? '';
      return (typeof expected === 'string' ? t.includes(expected) : expected.test(t)) ? t : false;
    },
    { timeout },
  );
}

/** Waits until the element's attribute has this value. */
export async function attr(locator, name, expected, { timeout = SHOWN } = {}) {
  return until(
    `${locator} to have ${name}=${expected}`,
    async () => ((await locator.getAttribute(name)) === expected ? true : false),
    { timeout },
  );
}

/** Signs in through the one-click link and waits for the console's navigation. */
export async function signIn(page, path = '/') {
  await page.goto(`${path}#token=${encodeURIComponent(env.token)}`);
  await page.getByTestId('nav-fleet').waitFor();
}

/** Waits until the console says its live stream is connected. */
export async function live(page) {
  await attr(page.getByTestId('live-indicator'), 'data-live', 'true');
}

/** Saves a 1280x800 PNG of the page as console-NAME.png in EDGEFLEET_SCREENSHOTS (if set). */
export async function screenshot(page, name) {
  if (!env.screenshots) return;
  mkdirSync(env.screenshots, { recursive: true });
  // Fonts and layout settle before the picture.
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(env.screenshots, `console-${name}.png`), fullPage: false });
}

/**
 * The agent the rollout scenario takes offline: the one with the largest device id, which a
 * rollout puts in its last batch (devices are assigned in id order).
 */
export function awayAgent() {
  const ids = env.agentIds;
  const i = ids.indexOf([...ids].sort().at(-1));
  return { name: env.agents[i], id: ids[i] };
}

/** Stops or starts one of the fleet's agents through the harness. */
export async function agent(name, action) {
  const res = await fetch(`${env.control}/agents/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`${action} agent ${name}: ${res.status} ${await res.text()}`);
}

/** The test IDs of rows whose data-testid starts with a prefix, in page order. */
export async function rowIds(page, prefix) {
  return page.$$eval(`[data-testid^="${prefix}"]`, (els, p) => els.map((e) => e.getAttribute('data-testid').slice(p.length)), prefix);
}
