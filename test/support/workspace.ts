import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { airyAdapterFactory } from '../../app/platforms/airy/adapter.ts';
import { alvariaAdapterFactory } from '../../app/platforms/alvaria/adapter.ts';
import { FakeAiry } from '../../fakes/airy/index.ts';
import { FakeAlvaria } from '../../fakes/alvaria/server.ts';
import type { FakePipedrive } from '../../fakes/pipedrive/server.ts';
import type { TestBridge } from './harness.ts';
import { installVia, startBridgeWithPipedrive, type Installed } from './install.ts';

/** Debian's Chromium, driven by playwright-core (as test/http/admin/admin-browser.test.ts). */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const skipWithoutChromium = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (install it with apt-get install chromium, or set CHROMIUM_PATH)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

export async function screenshotOnFailure(page: Page | undefined, name: string, err: unknown): Promise<never> {
  if (page) {
    mkdirSync('test-results', { recursive: true });
    const file = join('test-results', `${name}-${process.env.TEST_DB ?? 'sqlite'}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot saved to ${file}`);
  }
  throw err;
}

export interface WorkspaceWorld {
  bridge: TestBridge;
  pipedrive: FakePipedrive;
  airy: FakeAiry;
  alvaria: FakeAlvaria;
  close(): Promise<void>;
}

/**
 * The bridge with the real Airy and Alvaria adapters against their fakes, and the fake Pipedrive
 * (whose host page may frame the app: UI_FRAME_ANCESTORS is the fake's origin). Transcripts flush
 * after 1 s idle so a test can wait for the note.
 */
export async function startWorkspaceWorld(opts: { env?: Record<string, string> } = {}): Promise<WorkspaceWorld> {
  const airy = await FakeAiry.start();
  const alvaria = await FakeAlvaria.start();
  const { bridge, fake, close } = await startBridgeWithPipedrive({
    platforms: {
      airy: airyAdapterFactory({ timeoutMs: 2000, realtime: { backoff: { baseMs: 20, capMs: 100 }, rescanMs: 50 } }),
      alvaria: alvariaAdapterFactory({ now: alvaria.clock.now }),
    },
    env: { TRANSCRIPT_FLUSH_SECONDS: '1', ...opts.env },
  });
  return {
    bridge,
    pipedrive: fake,
    airy,
    alvaria,
    async close() {
      await close();
      await alvaria.stop();
      await airy.close();
    },
  };
}

/** Installs through the fake's OAuth (as a person clicking the install link would). */
export function install(w: WorkspaceWorld, userId?: number): Promise<Installed> {
  return installVia(w.bridge, w.pipedrive, userId === undefined ? {} : { userId });
}

/** A page in a fresh browser context that records page errors (a test asserts there are none). */
export async function newPage(browser: Browser, viewport = { width: 1200, height: 800 }): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, context, errors };
}
