import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { airyAdapterFactory } from '../../../app/platforms/airy/adapter.ts';
import { alvariaAdapterFactory } from '../../../app/platforms/alvaria/adapter.ts';
import { FakeAlvaria } from '../../../fakes/alvaria/server.ts';
import { loadSpec } from '../../../fakes/pipedrive/contract.ts';
import { startBridgeWithPipedrive } from '../../support/install.ts';
import { sign, TestPlatform } from '../../support/test-provider.ts';

/**
 * The admin page in a real browser (Debian's Chromium, driven by playwright-core): install
 * through the fake OAuth, connect a channel, see it listed, replay a dead letter, delete it.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (install it with apt-get install chromium, or set CHROMIUM_PATH)`;

/** Set ADMIN_SCREENSHOTS=<folder> to keep screenshots of each state, wide and narrow, light and dark. */
const SHOTS = process.env.ADMIN_SCREENSHOTS;
async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  const size = page.viewportSize();
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `${name}-${size?.width ?? 0}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Nothing wider than the viewport: no sideways scrolling. */
async function assertNoHorizontalScroll(page: Page, what: string): Promise<void> {
  // A string expression: the test is compiled without the DOM library.
  const { doc, body, viewport } = await page.evaluate<{ doc: number; body: number; viewport: number }>(
    '({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })',
  );
  assert.ok(doc <= viewport && body <= viewport, `${what}: document ${doc} px / body ${body} px wide in a ${viewport} px viewport`);
}

async function screenshotOnFailure(page: Page | undefined, name: string, err: unknown): Promise<never> {
  if (page) {
    mkdirSync('test-results', { recursive: true });
    const file = join('test-results', `${name}-${process.env.TEST_DB ?? 'sqlite'}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot saved to ${file}`);
  }
  throw err;
}

test('admin page in Chromium: install, connect a channel, see it listed, replay a dead letter, delete it', { skip, timeout: 120_000 }, async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    await fake.linkApp(bridge.url);
    await loadSpec();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30_000 });
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Not signed in: the page offers the install, which runs through the fake's OAuth.
    const first = await page.goto(`${bridge.url}/admin`);
    assert.equal(first?.status(), 401);
    await page.click('#install');
    await page.waitForURL(`${bridge.url}/admin`);
    await page.getByText('Signed in as').waitFor();
    assert.match((await page.textContent('body')) ?? '', /Pat Admin/);
    assert.equal(await page.isVisible('#no-channels'), true);

    // Connect a channel with the test platform.
    await page.selectOption('#provider', 'test');
    await page.fill('#name', 'Browser channel');
    await page.fill('#avatar_url', 'https://example.com/icon.png');
    await page.fill('#cfg-test-secret', 'browser-secret');
    await page.fill('#templates', 'greet | Greeting | en | Hello {{1}}');
    // Armed at the click (the sync cannot start before it): the fake's first OpenAPI check compiles the file.
    const synced = fake.next('sync');
    await page.click('#connect-button');
    const row = page.locator('#channels tbody tr', { hasText: 'Browser channel' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Test platform/);
    assert.match((await row.textContent()) ?? '', /Webhook URL/);
    const sync = await synced;
    assert.equal(sync.ok, true);
    assert.equal(fake.state.channels.size, 1);
    assert.deepEqual([...fake.state.channels.values()][0]!.templates, [{ id: 'greet', name: 'Greeting', content: 'Hello {{1}}', language: 'en' }]);
    assert.equal(platform.connected.length, 1);

    // The confirmation after connect, carried across the reload.
    await page.locator('#flash.ok', { hasText: 'Browser channel' }).waitFor();
    assert.match((await page.textContent('#flash')) ?? '', /connected and registered in Pipedrive/);

    // Every missing field at once, next to its field, in plain words; focus on the first.
    await page.fill('#name', '');
    await page.fill('#cfg-test-secret', '');
    await page.click('#connect-button');
    await page.locator('#form-errors:not([hidden])').waitFor();
    assert.equal(await page.textContent('.field[data-error-for="name"] .field-error'), 'Give the channel a name.');
    assert.equal(await page.textContent('.field[data-error-for="config.secret"] .field-error'), 'This is required.');
    assert.equal(await page.getAttribute('#name', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#cfg-test-secret', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate<string>('document.activeElement && document.activeElement.id'), 'name');
    assert.match((await page.textContent('#form-errors')) ?? '', /2 fields need your attention/);
    assert.equal(platform.connected.length, 1, 'nothing reached the platform');

    // Edit the channel: a new name and a rotated secret, without deleting it.
    const channelId = (await row.getAttribute('data-channel-id'))!;
    await page.getByRole('button', { name: 'Edit channel Browser channel' }).click();
    assert.equal(await page.textContent('#form-title'), 'Edit channel “Browser channel”');
    assert.equal(await page.inputValue('#name'), 'Browser channel');
    assert.equal(await page.inputValue('#cfg-test-secret'), '', 'a secret is never sent back to the page');
    assert.equal(await page.isDisabled('#provider'), true);
    await page.fill('#name', 'Renamed channel');
    await page.fill('#cfg-test-secret', 'rotated-secret');
    await page.click('#connect-button');
    await page.locator('#flash.ok', { hasText: 'saved' }).waitFor();
    const renamed = page.locator('#channels tbody tr', { hasText: 'Renamed channel' });
    assert.equal(await renamed.getAttribute('data-channel-id'), channelId, 'same channel, not a new one');
    assert.deepEqual(platform.connected, [channelId, channelId], 'the platform side was checked again');
    const probe = JSON.stringify({ eventId: 'probe', conversationId: 'none', text: 'x' });
    const oldSig = await fetch(`${bridge.url}/webhooks/test/${channelId}`, { method: 'POST', headers: { 'x-test-signature': sign('browser-secret', probe) }, body: probe });
    assert.equal(oldSig.status, 401, 'the old secret no longer verifies');
    // An edit that leaves the secret empty keeps the stored one. Its confirmation reads like the
    // one before, which is still on screen: wait for the reload the save makes, or the reload
    // below races it (Chromium: "Not attached to an active page").
    await page.getByRole('button', { name: 'Edit channel Renamed channel' }).click();
    const saved = page.waitForEvent('load');
    await page.click('#connect-button');
    await saved;
    await page.locator('#flash.ok', { hasText: 'Renamed channel' }).waitFor();

    // A message Pipedrive refuses becomes a dead letter; the page lists it and replays it.
    fake.failNext('receive', { status: 400, body: { success: false, error: 'bad payload' } });
    const dead = new Promise<void>((resolve) => bridge.outbox.once('dead', () => resolve()));
    const body = JSON.stringify({ eventId: 'browser-ev', conversationId: String(sync.conversations[0]!.id), text: 'refused once' });
    const hook = await fetch(`${bridge.url}/webhooks/test/${channelId}`, { method: 'POST', headers: { 'x-test-signature': sign('rotated-secret', body) }, body });
    assert.equal(hook.status, 200);
    await dead;
    await page.reload();
    const letter = page.locator('#dead-letters tbody tr', { hasText: 'refused once' });
    await letter.waitFor();
    // A readable reason and a next step; no raw platform body, no internal ids.
    const letterText = (await letter.textContent()) ?? '';
    assert.match(letterText, /Pipedrive refused the message \(HTTP 400\)/);
    assert.match(letterText, /Replay it once/);
    assert.ok(!letterText.includes('bad payload') && !letterText.includes('m_'), letterText);
    await shoot(page, 'admin-dead-letter');

    // At 390 px nothing scrolls sideways, with a table row, a dead letter and form errors on screen.
    const narrow = await page.context().newPage();
    narrow.setDefaultTimeout(10_000);
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(`${bridge.url}/admin`);
    await narrow.locator('#dead-letters tbody tr').waitFor();
    await assertNoHorizontalScroll(narrow, 'admin page at 390 px');
    await shoot(narrow, 'admin-dead-letter');
    await narrow.click('#connect-button');
    await narrow.locator('#form-errors:not([hidden])').waitFor();
    await assertNoHorizontalScroll(narrow, 'admin page at 390 px with form errors');
    await shoot(narrow, 'admin-form-errors');
    await narrow.close();

    const delivered = fake.next('message', (m) => m.message === 'refused once');
    await page.getByRole('button', { name: /^Replay: refused once \(Renamed channel\)$/ }).click();
    await delivered;
    await page.locator('#no-dead-letters').waitFor();
    // The reloaded page shows its rows as soon as they are parsed, the carried flash when its script runs.
    await page
      .locator('#flash')
      .filter({ hasText: /Replayed/ })
      .waitFor();

    // Delete it (confirm dialog accepted).
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete channel Renamed channel' }).click();
    await page.locator('#no-channels').waitFor();
    await page
      .locator('#flash')
      .filter({ hasText: /Channel “Renamed channel” deleted/ })
      .waitFor();
    assert.equal(fake.state.deletedChannels.length, 1);
    assert.deepEqual(pageErrors, []);
  } catch (err) {
    await screenshotOnFailure(page, 'admin-browser', err);
  } finally {
    await browser?.close();
    await close();
  }
});

test('admin page in Chromium with the real platforms: labels and hints from their schemas, Alvaria URL once, copy, 390 px', { skip, timeout: 120_000 }, async () => {
  const alvaria = await FakeAlvaria.start();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { airy: airyAdapterFactory(), alvaria: alvariaAdapterFactory() } });
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    await fake.linkApp(bridge.url);
    await loadSpec();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30_000 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: bridge.url });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${bridge.url}/admin`);
    await page.click('#install');
    await page.getByText('Signed in as').waitFor();

    // Labels, hints and placeholders come from the schemas; only secrets are password fields.
    await page.selectOption('#provider', 'alvaria');
    assert.equal(await page.textContent('label[for="cfg-alvaria-token_url"]'), 'Token URL');
    assert.equal(await page.getAttribute('#cfg-alvaria-token_url', 'type'), 'text');
    assert.equal(await page.getAttribute('#cfg-alvaria-api_url', 'type'), 'text');
    assert.equal(await page.getAttribute('#cfg-alvaria-client_secret', 'type'), 'password');
    assert.equal(await page.getAttribute('#cfg-alvaria-api_key', 'type'), 'password');
    const passwords = await page.$$eval('.provider-fields input[type=password]', (els) => els.map((e) => e.id).sort());
    assert.deepEqual(passwords, ['cfg-airy-system_token', 'cfg-alvaria-api_key', 'cfg-alvaria-client_secret']);
    assert.match((await page.textContent('#cfg-alvaria-work_type_id-hint')) ?? '', /work type/);
    assert.equal(await page.getAttribute('#cfg-alvaria-api_url', 'placeholder'), 'https://yourorg.via.aspect-cloud.net');
    assert.equal(await page.getAttribute('#cfg-alvaria-api_url', 'aria-describedby'), 'cfg-alvaria-api_url-hint cfg-alvaria-api_url-err');

    // Submitting the empty Alvaria form marks all nine fields at once.
    await page.click('#connect-button');
    await page.locator('#form-errors:not([hidden])').waitFor();
    const marked = await page.$$eval('.provider-fields:not([hidden]) [aria-invalid=true], #name[aria-invalid=true]', (els) => els.map((e) => e.id));
    assert.equal(marked.length, 9, marked.join(', '));
    assert.equal(await page.textContent('[data-provider=alvaria] .field[data-error-for="config.api_url"] .field-error'), 'This is required.');
    await shoot(page, 'admin-alvaria-form-errors');

    const config = alvaria.channelConfig();
    await page.fill('#name', 'Alvaria support');
    for (const [key, value] of Object.entries(config)) await page.fill(`#cfg-alvaria-${key}`, Array.isArray(value) ? value.join('\n') : String(value));
    await page.click('#connect-button');
    const row = page.locator('#channels tbody tr', { hasText: 'Alvaria support' });
    await row.waitFor();
    // The confirmation comes across the reload; the new page's rows can be there before it.
    await page.locator('#flash.ok', { hasText: 'Alvaria support' }).waitFor();
    assert.match((await page.textContent('#flash')) ?? '', /connected and registered in Pipedrive\. Give its callback URL/);
    // Webhook and callback URL are the same address: shown once, with a copy button.
    const urls = await row.locator('.url code').allTextContents();
    assert.equal(urls.length, 1);
    assert.match(urls[0]!, /\/webhooks\/alvaria\/ch_/);
    await row.getByRole('button', { name: 'Copy the webhook / callback url of Alvaria support' }).click();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), urls[0]);
    await shoot(page, 'admin-alvaria');

    // Editing shows the stored non-secret settings and never the secrets.
    await page.getByRole('button', { name: 'Edit channel Alvaria support' }).click();
    assert.equal(await page.inputValue('#cfg-alvaria-org_id'), config.org_id);
    assert.equal(await page.inputValue('#cfg-alvaria-client_secret'), '');
    assert.ok(!(await page.content()).includes(config.client_secret), 'the client secret is nowhere in the page');
    await shoot(page, 'admin-alvaria-edit');
    await page.click('#cancel-edit');
    assert.equal(await page.textContent('#form-title'), 'Connect a channel');

    const narrow = await context.newPage();
    narrow.setDefaultTimeout(10_000);
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(`${bridge.url}/admin`);
    await narrow.locator('#channels tbody tr').waitFor();
    await assertNoHorizontalScroll(narrow, 'admin page with an Alvaria channel at 390 px');
    await shoot(narrow, 'admin-alvaria');
    await narrow.close();
    assert.deepEqual(pageErrors, []);
  } catch (err) {
    await screenshotOnFailure(page, 'admin-browser-platforms', err);
  } finally {
    await browser?.close();
    await close();
    await alvaria.stop();
  }
});
