import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { install, launchChromium, newPage, screenshotOnFailure, skipWithoutChromium, startWorkspaceWorld, type WorkspaceWorld } from '../support/workspace.ts';

/**
 * The workspace surface as a Pipedrive user sees it, in Chromium through the fake Pipedrive host
 * page (which frames the app's iframes and answers the real SDK's postMessage protocol), with the
 * Channels API answered as removed: install, connect an Airy and an Alvaria channel on the app
 * settings page, chat from the floating window (file to Airy, live reply, dock badge), start a
 * conversation about a deal from its panel (the Alvaria agent learns the deal), and find the
 * transcript as one note on the deal.
 */

async function connect(page: Page, app: FrameLocator, provider: 'airy' | 'alvaria', name: string, fields: Record<string, string>): Promise<string> {
  await app.locator('#provider').selectOption(provider);
  await app.locator('#name').fill(name);
  for (const [k, v] of Object.entries(fields)) await app.locator(`#cfg-${provider}-${k}`).fill(v);
  await app.locator('#connect-button').click();
  // The page reloads itself (with a fresh SDK token) and lists the channel.
  const row = app.locator('#channels tbody tr', { hasText: name });
  await row.waitFor();
  return (await row.getAttribute('data-channel-id'))!;
}

const badge = (page: Page) => page.locator('#dock-badge');

test('workspace in Chromium: settings connect Airy + Alvaria, the window chats with a file and a live reply (badge), a deal panel starts a conversation whose transcript becomes one note', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const w: WorkspaceWorld = await startWorkspaceWorld();
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    w.pipedrive.settings.channelsApi = 'removed';
    const { user } = await install(w);
    const deal = w.pipedrive.addRecord('deal', 42, 'Acme renewal 2027');
    browser = await launchChromium();
    const s = await newPage(browser);
    page = s.page;

    // ── App settings inside Pipedrive: connect both channels (bearer tokens from the SDK, no cookie) ──
    await page.goto(w.pipedrive.host.url('settings', { user: String(user.id) }));
    let app = page.frameLocator('#ext');
    await app.getByText('Signed in as').waitFor();
    await app.locator('#surface input[type=radio]:checked').waitFor();
    const airyId = await connect(page, app, 'airy', 'Airy support', { api_url: w.airy.url, system_token: w.airy.systemToken });
    app = page.frameLocator('#ext');
    const alvariaId = await connect(page, app, 'alvaria', 'Alvaria sales', {
      api_url: w.alvaria.url,
      token_url: w.alvaria.tokenUrl,
      org_id: w.alvaria.orgId,
      client_id: w.alvaria.clientId,
      client_secret: w.alvaria.clientSecret,
      api_key: w.alvaria.apiKey,
      work_type_id: '32',
      callback_public_keys: w.alvaria.signer.currentPublicPem,
    });
    const urls = (await app.locator(`#channels tbody tr[data-channel-id="${alvariaId}"]`).textContent()) ?? '';
    w.alvaria.deliveries.callbackUrl = /callback_url: (\S+)/.exec(urls)![1]!;
    // The Channels API is gone: both channels run on the workspace surface, nothing was retried there.
    assert.equal(w.pipedrive.state.channels.size, 0);
    assert.equal(await app.locator('#surface-workspace').isChecked(), true);
    assert.deepEqual(s.errors, []);

    // ── The floating window: both channels, write with a file to Airy ──
    await page.goto(w.pipedrive.host.url('window', { user: String(user.id) }));
    app = page.frameLocator('#ext');
    await app.locator(`#channels [data-channel-id="${airyId}"]`).waitFor();
    await app.locator(`#channels [data-channel-id="${alvariaId}"]`).waitFor();
    assert.ok(w.pipedrive.host.log.some((m) => m.command === 'initialize'), 'the SDK initialized');
    await app.locator(`[data-start-channel="${airyId}"]`).click();
    await app.locator('#text').fill('Hello from the Pipedrive window');
    await app.locator('#files').setInputFiles({ name: 'quote.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 quote') });
    await app.locator('#picked .pick', { hasText: 'quote.pdf' }).waitFor();
    await app.locator('#send').click();
    const mine = app.locator('.msg.out', { hasText: 'Hello from the Pipedrive window' });
    await mine.waitFor();
    await mine.locator('.attachment', { hasText: 'quote.pdf' }).waitFor();
    const sent = await waitUntil(() => [...w.airy.model.messages.values()].find((m) => (m.content as { text?: string }).text === 'Hello from the Pipedrive window'));
    const content = sent.content as { attachments: Array<{ name: string; url: string }> };
    assert.equal(content.attachments.length, 1);
    assert.equal(content.attachments[0]!.name, 'quote.pdf');
    assert.equal(await (await fetch(content.attachments[0]!.url)).text(), '%PDF-1.4 quote');
    await app.locator(`.msg.out[data-status="delivered"]`, { hasText: 'Hello from the Pipedrive window' }).waitFor();

    // ── An Airy user answers: it appears live (no reload) with the unread count and the dock badge ──
    await app.locator('#back').click();
    const badged = w.pipedrive.next('sdk', (m) => m.command === 'set_notification' && m.args?.number === 1);
    await w.airy.userReply(sent.conversationId, { text: 'Hi, Airy here' });
    await badged;
    await app.locator('.conv.unread .badge', { hasText: '1' }).waitFor();
    assert.equal(await badge(page).textContent(), '1');
    await app.locator('.conv.unread .conv-button').click();
    await app.locator('.msg.in', { hasText: 'Hi, Airy here' }).waitFor();
    await w.pipedrive.next('sdk', (m) => m.command === 'set_notification' && m.args?.number === 0);
    assert.equal(await badge(page).textContent(), '');

    // ── A deal panel: start a conversation about the deal on Alvaria ──
    await page.goto(w.pipedrive.host.url('panel', { user: String(user.id), resource: 'deal', selectedIds: String(deal.id) }));
    app = page.frameLocator('#ext');
    await app.locator('#start').click();
    const session = new Promise<{ id: string; messages: Array<{ text?: string }> }>((resolve) => w.alvaria.once('session', (x) => resolve(x)));
    await app.locator(`#start-menu [data-start-channel="${alvariaId}"]`).click();
    await app.locator('#text').fill('Can we talk about the renewal?');
    await app.locator('#send').click();
    const started = await session;
    const first = await waitUntil(() => started.messages[0]);
    assert.match(first.text ?? '', /Acme renewal 2027/, 'the agent learns the deal title');
    assert.match(first.text ?? '', /\/deal\/42/, 'and its link');
    await waitUntil(() => started.messages.find((m) => m.text === 'Can we talk about the renewal?'));
    w.alvaria.agentJoined(started.id, 'Ann');
    w.alvaria.agentMessage(started.id, { text: 'Sure, I am on it' });
    await app.locator('.msg.in', { hasText: 'Sure, I am on it' }).waitFor();

    // ── After the flush: exactly one note on the deal, every line in order ──
    const note = await waitUntil(() => {
      const notes = [...w.pipedrive.state.notes.values()].filter((n) => n.deal_id === deal.id);
      return notes.length === 1 && /Sure, I am on it/.test(notes[0]!.content) ? notes[0] : undefined;
    }, 20_000);
    const order = ['Can we talk about the renewal?', 'Sure, I am on it'].map((t) => note.content.indexOf(t));
    assert.ok(order.every((i) => i >= 0) && order[0]! < order[1]!, note.content);
    await app.locator('.transcript', { hasText: /Saved to the deal's notes/ }).waitFor();
    assert.deepEqual(s.errors, []);
  } catch (err) {
    await screenshotOnFailure(page, 'workspace-browser', err);
  } finally {
    await browser?.close();
    await w.close();
  }
});

/** Polls a condition that has no event to await (a fake's records); bounded. */
async function waitUntil<T>(f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
