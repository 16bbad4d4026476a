// Signing in: the form checks the token with the controller, the #token= link signs in with one
// click and leaves no token in the address, and a refused token sends the user back to sign in.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { browser, env, live, text, screenshot } from '../lib/harness.mjs';

let b;
before(async () => {
  b = await browser();
});
after(async () => {
  await b?.close();
});

test('without a token the console asks for one, refuses a wrong one and takes the right one', async () => {
  const { page } = b;
  await page.goto('/devices');
  await page.getByTestId('signin-token').waitFor();
  assert.equal(new URL(page.url()).pathname, '/signin');
  await screenshot(page, 'signin');

  await page.getByTestId('signin-token').fill('efa_not-the-token');
  await page.getByTestId('signin-submit').click();
  await text(page.getByTestId('error-banner'), /refused this token/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('edgefleet.token')), null);

  await page.getByTestId('signin-token').fill(env.token);
  await page.getByTestId('signin-submit').click();
  // Back where the user wanted to go, signed in for this tab.
  await page.getByTestId('devices-table').waitFor();
  assert.equal(new URL(page.url()).pathname, '/devices');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('edgefleet.token')), env.token);
  // Signed in, the console follows the controller's live stream.
  await live(page);
});

test('the #token= link signs in with one click and removes the token from the address', async () => {
  const { page } = b;
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(`/#token=${encodeURIComponent(env.token)}`);
  await page.getByTestId('fleet-sentence').waitFor();
  const u = new URL(page.url());
  assert.equal(u.hash, '');
  assert.equal(u.pathname, '/');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('edgefleet.token')), env.token);
  // Nor is it kept in the history entry.
  assert.ok(!(await page.evaluate(() => location.href)).includes(env.token));
});

test('a token the controller refuses sends the user back to sign in with a message', async () => {
  const { page } = b;
  await page.evaluate(() => sessionStorage.setItem('edgefleet.token', 'efa_revoked-or-wrong'));
  await page.goto('/devices');
  await page.getByTestId('signin-token').waitFor();
  assert.equal(new URL(page.url()).pathname, '/signin');
  await text(page.locator('main'), /sign in|token/i);
  assert.notEqual(await page.evaluate(() => sessionStorage.getItem('edgefleet.token')), 'efa_revoked-or-wrong');
});
