import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBridgeWithPipedrive } from '../support/install.ts';
import { sign, TestPlatform } from '../support/test-provider.ts';

/**
 * The admin page in a real browser (Debian's Chromium, driven by playwright-core): install
 * through the fake OAuth, connect a channel, see it listed, replay a dead letter, delete it.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (install it with apt-get install chromium, or set CHROMIUM_PATH)`;

async function screenshotOnFailure(page: Page | undefined, name: string, err: unknown): Promise<never> {
  if (page) {
    mkdirSync('test-results', { recursive: true });
    const file = join('test-results', `${name}-${process.env.TEST_DB ?? 'sqlite'}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot saved to ${file}`);
  }
  throw err;
}

test('admin page in Chromium: install, connect a channel, see it listed, replay a dead letter, delete it', { skip, timeout: 60_000 }, async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ providers: { test: platform.factory() } });
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    await fake.linkApp(bridge.url);
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
    assert.match(await page.textContent('body') ?? '', /Pat Admin/);
    assert.equal(await page.isVisible('#no-channels'), true);

    // Connect a channel with the test platform.
    await page.selectOption('#provider', 'test');
    await page.fill('#name', 'Browser channel');
    await page.fill('#avatar_url', 'https://example.com/icon.png');
    await page.fill('#cfg-test-secret', 'browser-secret');
    await page.fill('#templates', 'greet | Greeting | en | Hello {{1}}');
    // Armed at the click (the sync cannot start before it): the fake's first spec check compiles the spec.
    const synced = fake.next('sync');
    await page.click('#connect-button');
    const row = page.locator('#channels tbody tr', { hasText: 'Browser channel' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Test platform/);
    assert.match((await row.textContent()) ?? '', /webhook_url/);
    const sync = await synced;
    assert.equal(sync.ok, true);
    assert.equal(fake.state.channels.size, 1);
    assert.deepEqual([...fake.state.channels.values()][0]!.templates, [{ id: 'greet', name: 'Greeting', content: 'Hello {{1}}', language: 'en' }]);
    assert.equal(platform.connected.length, 1);

    // A validation error shows in the page without a reload.
    await page.fill('#name', 'No secret');
    await page.fill('#cfg-test-secret', '');
    await page.click('#connect-button');
    await page.locator('#flash.err').waitFor();
    assert.match((await page.textContent('#flash')) ?? '', /config\.secret/);

    // A message Pipedrive refuses becomes a dead letter; the page lists it and replays it.
    const channelId = (await row.getAttribute('data-channel-id'))!;
    fake.failNext('receive', { status: 400, body: { success: false, error: 'bad payload' } });
    const dead = new Promise<void>((resolve) => bridge.outbox.once('dead', () => resolve()));
    const body = JSON.stringify({ eventId: 'browser-ev', conversationId: String(sync.conversations[0]!.id), text: 'refused once' });
    const hook = await fetch(`${bridge.url}/webhooks/test/${channelId}`, { method: 'POST', headers: { 'x-test-signature': sign('browser-secret', body) }, body });
    assert.equal(hook.status, 200);
    await dead;
    await page.reload();
    const letter = page.locator('#dead-letters tbody tr', { hasText: 'refused once' });
    await letter.waitFor();
    assert.match((await letter.textContent()) ?? '', /HTTP 400/);
    const delivered = fake.next('message', (m) => m.message === 'refused once');
    await letter.locator('button.replay').click();
    await delivered;
    await page.locator('#no-dead-letters').waitFor();

    // Delete it (confirm dialog accepted).
    page.once('dialog', (d) => void d.accept());
    await row.locator('button.delete').click();
    await page.locator('#no-channels').waitFor();
    assert.equal(fake.state.deletedChannels.length, 1);
    assert.deepEqual(pageErrors, []);
  } catch (err) {
    await screenshotOnFailure(page, 'admin-browser', err);
  } finally {
    await browser?.close();
    await close();
  }
});
