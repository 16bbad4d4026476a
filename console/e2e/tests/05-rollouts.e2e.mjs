// Rollouts: a deployment's rollout moves batch by batch to SUCCEEDED on its page without a reload;
// a device that goes offline is shown OFFLINE and counted pending-offline (not failed) by the next
// rollout, which an operator pauses, resumes and rolls back from the console.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, api, signIn, live, text, until, attr, screenshot, agent, awayAgent, env } from '../lib/harness.mjs';

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

/** A canary of one, then half, then the rest, each batch soaking 3 s: about 10 s in all. */
const PHASED = 'canary: 1\nwaves: [50%]\nsoak: 3s\nprogressDeadline: 2m\n';

const rolloutState = (page) => page.getByTestId('rollout-state');

/** Marks the document: a reload (or a full navigation) loses the mark. */
const mark = (page) => page.evaluate(() => (window.__e2eMark = 'kept'));
const marked = (page) => page.evaluate(() => window.__e2eMark === 'kept');

/** Fills the deploy (or upgrade) dialog, checks the plan, then confirms it. */
async function deployThroughDialog(page, { app, version, target, rollout, devices }) {
  if (app) await page.getByTestId('deploy-app').selectOption(app);
  await page.getByTestId('deploy-version').selectOption(version);
  if (target) await page.getByTestId('deploy-target').fill(target);
  await page.getByTestId('deploy-rollout').fill(rollout);
  await page.getByTestId('deploy-submit').click();
  // Nothing changes before the plan was shown and confirmed.
  await text(page.getByTestId('deploy-plan'), `${devices} of`);
  await text(page.getByTestId('deploy-submit'), `to ${devices} devices`);
  await page.getByTestId('deploy-submit').click();
  await page.getByTestId('deploy-plan').waitFor({ state: 'hidden' });
}

test('deploying the app starts a rollout whose page follows it batch by batch to SUCCEEDED', async () => {
  const { page, errors } = b;
  await signIn(page, '/apps');
  await live(page);
  assert.equal((await a.call('GET', `/api/v1/deployments/${env.app}`)).status, 404);
  await page.getByTestId('deploy-open').click();
  await deployThroughDialog(page, { app: env.app, version: '1.0.0', target: 'env=demo', rollout: PHASED, devices: env.agents.length });
  const d = await a.get(`/api/v1/deployments/${env.app}`);
  assert.equal(d.version, '1.0.0');
  assert.equal(d.target, 'env=demo');
  const id = d.latestRollout.id;

  // From the deployment's row to its rollout, inside the console (no page load).
  await mark(page);
  await page.getByTestId(`deployment-row-${env.app}`).locator(`a[href="/rollouts/${id}"]`).click();
  await rolloutState(page).waitFor();
  assert.equal(new URL(page.url()).pathname, `/rollouts/${id}`);
  // Seen while it runs, then done, on the same document.
  await text(rolloutState(page), 'PROGRESSING');
  const readyShown = async () => Number((await page.getByTestId('rollout-counts').locator('[data-count="ready"] b').textContent()).replace(/[^0-9]/g, ''));
  const readyAtFirst = await readyShown();
  assert.ok(readyAtFirst < env.agents.length, `not every device is ready yet (${readyAtFirst})`);
  await screenshot(page, 'rollout');
  const seen = new Set();
  await until(
    'the rollout to succeed on its page',
    async () => {
      const t = (await rolloutState(page).textContent()).trim();
      seen.add(t);
      // A batch's counts on the page, e.g. "targeted 6 … ready 6".
      return t === 'SUCCEEDED';
    },
    { timeout: 60_000, every: 100 },
  );
  assert.ok(await marked(page), 'the page was not reloaded');
  // The counts moved with it.
  await until('every device counted ready', async () => (await readyShown()) === env.agents.length);
  await screenshot(page, 'rollout-done');
  const done = await a.get(`/api/v1/rollouts/${encodeURIComponent(id)}?devices=false`);
  assert.equal(done.state, 'SUCCEEDED');
  assert.deepEqual(done.batches.map((x) => x.name), ['canary', 'wave-1', 'rest']);
  for (const [n, batch] of done.batches.entries()) {
    const shown = page.getByTestId(`rollout-batch-${n}`);
    await text(shown, batch.name);
    await attr(shown, 'data-state', 'SUCCEEDED');
    await text(shown.locator('[data-count="ready"]'), String(batch.counts.ready));
  }

  // The Apps page: the deployment, its rollout, and the app READY on every device.
  await page.getByTestId('nav-apps').click();
  await text(page.getByTestId(`deployment-row-${env.app}`), 'SUCCEEDED');
  await text(page.getByTestId(`app-row-${env.app}`), String(env.agents.length));
  await screenshot(page, 'apps');
  assert.deepEqual(errors, []);
});

test('an agent that stops shows OFFLINE; the next rollout counts it pending-offline, and pauses, resumes and rolls back from the console', async () => {
  const { page, errors } = b;
  const { name: awayName, id: away } = awayAgent();

  const rule = await a.call('POST', '/api/v1/alerts/rules', { name: 'device-gone', type: 'device-offline', for: '1s', selector: 'env=demo', severity: 'warning' });
  assert.ok([201, 409].includes(rule.status), JSON.stringify(rule)); // 409: made by an earlier run against this controller
  await signIn(page, `/devices/${encodeURIComponent(away)}`);
  await text(page.getByTestId('device-status'), 'ONLINE');
  await mark(page);
  await agent(awayName, 'stop');
  await text(page.getByTestId('device-status'), 'OFFLINE', { timeout: 45_000 });
  assert.ok(await marked(page), 'the device page turned OFFLINE live');

  // A version the devices do not run yet (2.0.0; 2.1.0 when an earlier run against this
  // controller went to 2.0.0).
  const version = (await a.get(`/api/v1/deployments/${env.app}`)).version === '2.0.0' ? '2.1.0' : '2.0.0';
  await page.goto('/apps');
  await page.getByTestId(`upgrade-open-${env.app}`).click();
  await deployThroughDialog(page, { version, rollout: 'canary: 1\nwaves: [100%]\nprogressDeadline: 10m\n', devices: env.agents.length });
  const up = await a.get(`/api/v1/deployments/${env.app}`);
  assert.equal(up.version, version);
  const id = up.latestRollout.id;
  await page.goto(`/rollouts/${encodeURIComponent(id)}`);
  await mark(page);
  // The wave holds every device but the canary, the offline one among them.
  const waiting = await until(
    'the wave to wait for the offline device',
    async () => {
      const r = await a.get(`/api/v1/rollouts/${encodeURIComponent(id)}?devices=false`);
      const wave = r.batches[1];
      return r.state === 'PROGRESSING' && wave.counts.pendingOffline === 1 && wave.counts.ready === wave.counts.targeted - 1 ? r : false;
    },
    { timeout: 60_000 },
  );
  assert.equal(waiting.batches[1].counts.failed, 0);
  await text(rolloutState(page), 'PROGRESSING');
  await text(page.getByTestId('rollout-batch-1'), /offline/i);
  await screenshot(page, 'rollout-offline');

  // Meanwhile, in another tab, the Fleet page: the device offline, its alert, the rollout in flight.
  const fleet = await b.context.newPage();
  await fleet.goto(`/#token=${encodeURIComponent(env.token)}`);
  await text(fleet.getByTestId('status-count-OFFLINE'), '1');
  await text(fleet.locator('main'), awayName);
  await text(fleet.locator('main'), 'PROGRESSING');
  await text(fleet.locator('main'), 'is offline');
  await screenshot(fleet, 'fleet-busy');
  await fleet.close();

  await page.getByTestId('rollout-pause').click();
  await text(rolloutState(page), 'PAUSED');
  assert.equal((await a.get(`/api/v1/rollouts/${encodeURIComponent(id)}?devices=false`)).state, 'PAUSED');
  await page.getByTestId('rollout-resume').click();
  await text(rolloutState(page), 'PROGRESSING');

  await page.getByTestId('rollout-rollback').click();
  await page.locator('dialog[open]').getByTestId('confirm-yes').click();
  await text(rolloutState(page), /ROLLING_BACK|ROLLED_BACK/);
  // The device comes back and returns to the revision it ran: the rollback is complete.
  await agent(awayName, 'start');
  await text(rolloutState(page), 'ROLLED_BACK', { timeout: 60_000 });
  assert.ok(await marked(page), 'the rollout page followed every change without a reload');
  const r = await a.get(`/api/v1/rollouts/${encodeURIComponent(id)}?devices=false`);
  assert.equal(r.state, 'ROLLED_BACK');

  await page.goto('/rollouts');
  await page.getByTestId(`rollout-row-${id}`).waitFor();
  await text(page.getByTestId(`rollout-row-${id}`), 'ROLLED_BACK');
  await screenshot(page, 'rollouts');
  assert.deepEqual(errors, []);
});
