import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { adminCall } from '../../support/install.ts';
import { install, launchChromium, newPage, screenshotOnFailure, skipWithoutChromium, startWorkspaceWorld, type WorkspaceWorld } from '../../support/workspace.ts';

/**
 * The workspace surface as a Pipedrive user sees it, in Chromium through the fake Pipedrive host
 * page (which frames the app's iframes and answers the real SDK's postMessage protocol), with the
 * Channels API answered as removed: install, connect an Airy and an Alvaria channel on the app
 * settings page, chat from the floating window (file to Airy, live reply, dock badge), start a
 * conversation about a deal from its panel (the Alvaria agent learns the deal), and find the
 * transcript as one note on the deal.
 */

async function connect(app: FrameLocator, provider: 'airy' | 'alvaria', name: string, fields: Record<string, string>): Promise<string> {
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

async function connectViaAdminApi(w: WorkspaceWorld, cookie: string, body: Record<string, unknown>): Promise<string> {
  const res = await adminCall(w.bridge, cookie, 'POST', '/channels', body);
  const json = (await res.json()) as { channel: { id: string; urls: Record<string, string> } };
  assert.equal(res.status, 201, JSON.stringify(json));
  if (body.provider === 'alvaria') w.alvaria.deliveries.callbackUrl = json.channel.urls.callback_url!;
  return json.channel.id;
}

test(
  'workspace in Chromium: the window chats with a file and a live reply (badge), a deal panel starts a conversation whose transcript becomes one note',
  { skip: skipWithoutChromium, timeout: 120_000 },
  async () => {
    const w: WorkspaceWorld = await startWorkspaceWorld();
    let browser: Browser | undefined;
    let page: Page | undefined;
    try {
      // Today's Pipedrive: the Channels API answers as removed; a fresh install still connects both channels.
      w.pipedrive.removeChannelsApi(410);
      const { user, cookie } = await install(w);
      const airyId = await connectViaAdminApi(w, cookie, { provider: 'airy', name: 'Airy support', config: { api_url: w.airy.url, system_token: w.airy.systemToken } });
      const alvariaId = await connectViaAdminApi(w, cookie, { provider: 'alvaria', name: 'Alvaria sales', config: w.alvaria.channelConfig() });
      const deal = w.pipedrive.addRecord('deal', 42, 'Acme renewal 2027');
      browser = await launchChromium();
      const s = await newPage(browser);
      page = s.page;

      // ── The floating window: both channels, write with a file to Airy ──
      await page.goto(w.pipedrive.host.url('window', { user: String(user.id) }));
      const win = page.frameLocator('#ext');
      await win.locator(`#channels [data-channel-id="${airyId}"]`).waitFor();
      await win.locator(`#channels [data-channel-id="${alvariaId}"]`).waitFor();
      assert.ok(
        w.pipedrive.host.log.some((m) => m.command === 'initialize'),
        'the SDK initialized',
      );
      await win.locator(`.conv[data-channel-id="${airyId}"] .conv-button`).click();
      await win.locator('#text').fill('Hello from the Pipedrive window');
      await win.locator('#files').setInputFiles({ name: 'quote.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 quote') });
      await win.locator('#picked .pick', { hasText: 'quote.pdf' }).waitFor();
      // The post's answer (the message as stored: queued) is held until the live stream has said
      // "delivered", as a slow network may deliver it: the late answer must not turn it back.
      let releaseAnswer!: () => void;
      const answerHeld = new Promise<void>((resolve) => (releaseAnswer = resolve));
      const postRoute = /\/ui\/api\/conversations\/[^/]+\/messages$/;
      await page.route(postRoute, async (route) => {
        if (route.request().method() !== 'POST') return route.fallback();
        const answer = await route.fetch();
        await answerHeld;
        await route.fulfill({ response: answer });
      });
      await win.locator('#send').click();
      const mine = win.locator('.msg.out', { hasText: 'Hello from the Pipedrive window' });
      await mine.waitFor();
      await mine.locator('.attachment', { hasText: 'quote.pdf' }).waitFor();
      const sent = await waitUntil(() => [...w.airy.model.messages.values()].find((m) => (m.content as { text?: string }).text === 'Hello from the Pipedrive window'));
      const content = sent.content as { attachments: Array<{ name: string; url: string }> };
      assert.equal(content.attachments.length, 1);
      assert.equal(content.attachments[0]!.name, 'quote.pdf');
      assert.equal(await (await fetch(content.attachments[0]!.url)).text(), '%PDF-1.4 quote');
      // Airy stored it: the status turns live, without a reload.
      await win.locator('.msg.out[data-status="delivered"]', { hasText: 'Hello from the Pipedrive window' }).waitFor();
      releaseAnswer();
      // The answer is handled when the composer is free again; the status stays delivered.
      await win.locator('#send:not([disabled])').waitFor();
      assert.equal(await mine.getAttribute('data-status'), 'delivered');
      await page.unroute(postRoute);

      // ── An Airy user answers: it appears live (no reload) with the unread count and the dock badge ──
      await win.locator('#back').click();
      const badged = w.pipedrive.next('sdk', (m) => m.command === 'set_notification' && m.args?.number === 1);
      await w.airy.userReply(sent.conversationId, { text: 'Hi, Airy here' });
      await badged;
      await win.locator(`.conv.unread[data-channel-id="${airyId}"] .badge`, { hasText: '1' }).waitFor();
      assert.equal(await badge(page).textContent(), '1');
      const cleared = w.pipedrive.next('sdk', (m) => m.command === 'set_notification' && m.args?.number === 0);
      await win.locator(`.conv.unread[data-channel-id="${airyId}"] .conv-button`).click();
      await win.locator('.msg.in', { hasText: 'Hi, Airy here' }).waitFor();
      await cleared;
      assert.equal(await badge(page).textContent(), '');

      // ── A deal panel: start a conversation about the deal on Alvaria ──
      await page.goto(w.pipedrive.host.url('panel', { user: String(user.id), resource: 'deal', selectedIds: String(deal.id) }));
      const panel = page.frameLocator('#ext');
      await panel.locator('#start').click();
      const session = new Promise<{ id: string; messages: Array<{ text?: string }> }>((resolve) => w.alvaria.once('session', (x) => resolve(x)));
      await panel.locator(`#start-menu [data-start-channel="${alvariaId}"]`).click();
      await panel.locator('#text').fill('Can we talk about the renewal?');
      await panel.locator('#send').click();
      const started = await session;
      const first = await waitUntil(() => started.messages[0]);
      assert.match(first.text ?? '', /Acme renewal 2027/, 'the agent learns the deal title');
      assert.match(first.text ?? '', /\/deal\/42/, 'and its link');
      await waitUntil(() => started.messages.find((m) => m.text === 'Can we talk about the renewal?'));
      w.alvaria.agentJoined(started.id, 'Ann');
      // Alvaria's callbacks are independent requests: the message is sent once the join has shown.
      await panel.locator('.msg.in', { hasText: 'Ann joined' }).waitFor();
      w.alvaria.agentMessage(started.id, { text: 'Sure, I am on it' });
      await panel.locator('.msg.in', { hasText: 'Sure, I am on it' }).waitFor();

      // ── After the flush: exactly one note on the deal, every line in order; the panel says so ──
      // The flush may already have happened while the page rendered the answer: look, then wait.
      const written = () => w.pipedrive.notesOf('deal', deal.id).find((n) => n.content.includes('Sure, I am on it'));
      const note = written() ?? (await w.pipedrive.next('note', (n) => n.deal_id === deal.id && n.content.includes('Sure, I am on it'), 20_000));
      const notes = w.pipedrive.notesOf('deal', deal.id);
      assert.equal(notes.length, 1, JSON.stringify(notes.map((n) => n.content)));
      assert.equal(notes[0]!.id, note.id);
      const lines = ['Can we talk about the renewal?', 'Ann joined', 'Sure, I am on it'].map((t) => notes[0]!.content.indexOf(t));
      assert.ok(
        lines.every((i, n) => i >= 0 && (n === 0 || i > lines[n - 1]!)),
        notes[0]!.content,
      );
      await panel.locator('.thread-note.transcript', { hasText: /Saved to the deal's notes/ }).waitFor();
      // Nothing was sent to (or retried against) the removed Channels API.
      assert.equal(w.pipedrive.state.channels.size, 0);
      assert.equal(w.pipedrive.state.messages.size, 0);
      assert.deepEqual(s.errors, []);
    } catch (err) {
      await screenshotOnFailure(page, 'workspace-browser', err);
    } finally {
      await browser?.close();
      await w.close();
    }
  },
);

test(
  "app settings in Chromium: with the Channels API removed an admin connects Airy and Alvaria (SDK bearer tokens), sees the workspace surface and why, deletes through Pipedrive's confirmation; a colleague sees it read-only",
  { skip: skipWithoutChromium, timeout: 120_000 },
  async () => {
    const w: WorkspaceWorld = await startWorkspaceWorld();
    let browser: Browser | undefined;
    let page: Page | undefined;
    try {
      w.pipedrive.removeChannelsApi(410);
      const { user } = await install(w);
      browser = await launchChromium();
      const s = await newPage(browser, { width: 1100, height: 900 });
      page = s.page;
      await page.goto(w.pipedrive.host.url('settings', { user: String(user.id) }));
      let app = page.frameLocator('#ext');
      await app.getByText('Signed in as').waitFor();
      await app.locator('#surface input[type=radio]:checked').waitFor();

      const airyId = await connect(app, 'airy', 'Airy support', { api_url: w.airy.url, system_token: w.airy.systemToken });
      app = page.frameLocator('#ext');
      const alvariaId = await connect(app, 'alvaria', 'Alvaria sales', {
        api_url: w.alvaria.url,
        token_url: w.alvaria.tokenUrl,
        org_id: w.alvaria.orgId,
        client_id: w.alvaria.clientId,
        client_secret: w.alvaria.clientSecret,
        api_key: w.alvaria.apiKey,
        work_type_id: '32',
        callback_public_keys: w.alvaria.signer.currentPublicPem,
      });
      assert.notEqual(airyId, alvariaId);
      // The Channels API is gone: the company is on the workspace surface, and the page says why.
      await app.locator('#surface-workspace:checked').waitFor();
      assert.match((await app.locator('#surface').textContent()) ?? '', /removed|410|Channels API/i);
      assert.equal(w.pipedrive.state.channels.size, 0);
      // The token in the URL is replaced by a fresh SDK token on every reload, and no cookie is used.
      assert.deepEqual(
        (await s.context.cookies(w.bridge.url)).map((c) => c.name),
        [],
      );

      // Delete asks through Pipedrive's confirmation dialog (SHOW_CONFIRMATION); Cancel keeps it.
      const row = app.locator(`#channels tbody tr[data-channel-id="${airyId}"]`);
      await row.locator('button.delete').click();
      await page.locator('#host-confirm-cancel').click();
      assert.equal(await row.count(), 1);
      await row.locator('button.delete').click();
      await page.locator('#host-confirm-ok').click();
      // The page reloads with a fresh token: the row is gone from the new document, the other stays.
      await page.frameLocator('#ext').locator(`#channels tbody tr[data-channel-id="${airyId}"]`).waitFor({ state: 'detached' });
      await page.frameLocator('#ext').locator(`#channels tbody tr[data-channel-id="${alvariaId}"]`).waitFor();
      assert.ok(w.pipedrive.host.log.some((m) => m.command === 'show_confirmation'));

      // A colleague who is not a Pipedrive admin: read-only.
      const sam = w.pipedrive.addUser({ id: 1002, name: 'Sam Sales', email: 'sam@acme.example', is_admin: false });
      await page.goto(w.pipedrive.host.url('settings', { user: String(sam.id) }));
      app = page.frameLocator('#ext');
      await app.locator('#read-only', { hasText: 'Sam Sales' }).waitFor();
      assert.equal(await app.locator('#connect').count(), 0);
      assert.equal(await app.locator('button.delete:not([disabled])').count(), 0);
      assert.deepEqual(s.errors, []);
    } catch (err) {
      await screenshotOnFailure(page, 'workspace-settings', err);
    } finally {
      await browser?.close();
      await w.close();
    }
  },
);

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
