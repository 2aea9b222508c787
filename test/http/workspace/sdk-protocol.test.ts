import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { install, launchChromium, newPage, screenshotOnFailure, skipWithoutChromium, startWorkspaceWorld, type WorkspaceWorld } from '../../support/workspace.ts';

/**
 * The pages' side of the Pipedrive SDK protocol, in Chromium through the fake host page: the SDK
 * initializes within Pipedrive's 10 s, API calls carry SDK tokens (a rejected one is replaced once
 * and the call retried), no cookie is ever set, the theme follows USER_SETTINGS_CHANGE, a panel
 * RESIZEs to its content, and outside Pipedrive the page says so instead of hanging.
 */
test('SDK protocol in Chromium: init within 10 s, a 401 fetches a new token and retries, no cookies, theme change, panel resize', { skip: skipWithoutChromium, timeout: 90_000 }, async () => {
  const w: WorkspaceWorld = await startWorkspaceWorld();
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    const { user } = await install(w);
    browser = await launchChromium();
    const s = await newPage(browser);
    page = s.page;

    // The first token Pipedrive hands out is already expired: /ui/api answers 401, the page asks again.
    w.pipedrive.host.expireNextTokens(1);
    const started = Date.now();
    await page.goto(w.pipedrive.host.url('window', { user: String(user.id) }));
    const app = page.frameLocator('#ext');
    await app.locator('#empty', { hasText: 'No channels yet' }).waitFor();
    const init = w.pipedrive.host.log.find((m) => m.command === 'initialize');
    assert.ok(init && init.at - started < 10_000, 'initialized within 10 s');
    assert.equal(w.pipedrive.host.log.filter((m) => m.type === 'timeout').length, 0);
    assert.ok(w.pipedrive.host.log.filter((m) => m.command === 'get_signed_token').length >= 2, 'a new token after the 401');
    assert.equal(await app.locator('#status.err').count(), 0, 'no error shown after the retry');
    // No channel yet: an admin is pointed to the app settings page.
    assert.match((await app.locator('#empty').textContent()) ?? '', /app settings/);

    // Theme: the URL's, then whatever Pipedrive announces.
    const theme = () => app.locator('html').getAttribute('data-theme');
    assert.equal(await theme(), 'light');
    await page.click('#host-theme');
    await app.locator('html[data-theme="dark"]').waitFor();
    await page.click('#host-theme');
    await app.locator('html[data-theme="light"]').waitFor();

    // The panel fits its content through RESIZE (Pipedrive: 100 to 750 px).
    w.pipedrive.addRecord('person', 7, 'Dana Doe');
    const resized = w.pipedrive.next('sdk', (m) => m.surface === 'panel' && m.command === 'resize');
    await page.goto(w.pipedrive.host.url('panel', { user: String(user.id), resource: 'person', selectedIds: '7', theme: 'dark' }));
    const r = await resized;
    assert.ok(r.args.height >= 100 && r.args.height <= 750, JSON.stringify(r.args));
    assert.equal(await page.frameLocator('#ext').locator('html').getAttribute('data-theme'), 'dark');
    await page.frameLocator('#ext').locator('#empty', { hasText: 'No channels yet' }).waitFor();

    // No cookie from the app, ever (browsers block third-party cookies in iframes anyway).
    assert.deepEqual(
      (await s.context.cookies(w.bridge.url)).map((c) => c.name),
      [],
    );

    // Opened directly (not in Pipedrive): a clear message, no endless "Connecting".
    await page.goto(`${w.bridge.url}/ui/inbox?userId=${user.id}&companyId=${user.company_id}&token=x`);
    assert.match((await page.textContent('body')) ?? '', /Open this from Pipedrive/);
    assert.deepEqual(s.errors, []);
  } catch (err) {
    await screenshotOnFailure(page, 'workspace-sdk', err);
  } finally {
    await browser?.close();
    await w.close();
  }
});
