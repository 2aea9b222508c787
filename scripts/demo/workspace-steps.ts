import type { FakeSession } from '../../fakes/alvaria/server.ts';
import { mintUiToken } from '../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET } from '../../fakes/pipedrive/credentials.ts';
import type { Printer } from './printer.ts';
import type { Story } from './setup-steps.ts';
import { listening, nextEvent, STEP_TIMEOUT_MS, type World } from './world.ts';

/**
 * The same bridge on today's Pipedrive: the workspace surface (custom UI extensions). The demo
 * calls /ui/api as the window's script does, with a token the fake Pipedrive signs like the SDK's
 * GET_SIGNED_TOKEN; a person can click the same through the fake host page printed at the end.
 */
interface Workspace {
  dealId?: number;
  conversationId?: string;
  session?: FakeSession;
}
/** What the workspace steps learn as they go (one demo per process). */
const ws: Workspace = {};

const DEAL = { id: 42, title: 'Acme renewal 2027' };

async function ui<T>(w: World, method: string, path: string, body?: unknown): Promise<T> {
  const user = w.pipedrive.state.users.values().next().value!;
  const token = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET });
  const res = await fetch(`${w.bridge.url}/ui/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(`${method} /ui/api${path} answered ${res.status}: ${json.error?.message ?? ''}`);
  return json;
}

/** For what no event announces (a fake's records, the app's store): polled, bounded. */
async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${STEP_TIMEOUT_MS / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function theWindow(w: World, p: Printer): Promise<void> {
  p.step('The floating window inside Pipedrive (custom UI extension, GET /ui/inbox)');
  p.say('Pipedrive removed the Channels API on 2026-02-01: its inbox shows no third-party channels any more');
  w.pipedrive.removeChannelsApi(410);
  p.ok('The fake Pipedrive now answers every Channels API call with 410 Gone, as Pipedrive does since 2026-02-01');
  p.say("The app's own chat window runs in Pipedrive as an iframe; every call carries a fresh token from the SDK");
  const me = await ui<{ user: { name: string }; channels: Array<{ name: string; platform: string }>; surface: string }>(w, 'GET', '/me');
  p.ok(`${me.user.name} sees ${me.channels.length} channels: ${me.channels.map((c) => `${c.name} (${c.platform})`).join(', ')}`);
  const list = await ui<{ conversations: Array<{ title: string; unread: number; lastMessage?: { text: string } }> }>(w, 'GET', '/conversations');
  for (const c of list.conversations) p.ok(`  ${c.title}: ${c.unread} unread, last "${(c.lastMessage?.text ?? '').slice(0, 50)}"`);
  const unread = await ui<{ total: number }>(w, 'GET', '/unread');
  p.ok(`The dock badge shows ${unread.total} (SET_NOTIFICATION)`);
}

export async function dealPanel(w: World, p: Printer, s: Story): Promise<void> {
  p.step(`A deal panel starts a conversation about "${DEAL.title}" on Alvaria`);
  if (!s.alvaria) throw new Error('no Alvaria channel');
  w.pipedrive.addRecord('deal', DEAL.id, DEAL.title);
  ws.dealId = DEAL.id;
  p.say('The user opens the deal; the panel (GET /ui/panel?resource=deal&selectedIds=42) lists the conversations about it');
  const session = listening(nextEvent<[FakeSession]>(w.alvaria, 'session', 'Create Session at Alvaria'));
  const started = await ui<{ conversation: { id: string; title: string } }>(w, 'POST', '/conversations', { channelId: s.alvaria.id, record: { type: 'deal', id: DEAL.id } });
  ws.conversationId = started.conversation.id;
  p.ok(`A new bridge conversation about the deal: ${started.conversation.id}`);
  await ui(w, 'POST', `/conversations/${encodeURIComponent(started.conversation.id)}/messages`, { text: 'Can we talk about the renewal terms?' });
  const [sess] = await session;
  ws.session = sess;
  const context = await until('the context line at Alvaria', () => sess.messages[0]);
  p.ok(`Alvaria: a new session for "${sess.contactName}"; the agent's first line says what it is about:`);
  p.say(`"${context.text ?? ''}"`);
  await until("the user's message at Alvaria", () => sess.messages.find((m) => m.text === 'Can we talk about the renewal terms?'));
  const id = encodeURIComponent(started.conversation.id);
  const inbound = async (re: RegExp) =>
    (await ui<{ messages: Array<{ text: string; sender: { name: string }; direction: string }> }>(w, 'GET', `/conversations/${id}/messages`)).messages.find(
      (m) => m.direction === 'in' && re.test(m.text),
    );
  w.alvaria.agentJoined(sess.id, 'John');
  // Each Alvaria callback is its own request: the answer goes once the join is stored, so the transcript reads in order.
  await until('the agent joining', () => inbound(/joined/));
  w.alvaria.agentMessage(sess.id, { text: 'Of course: 12 months at the same price?' });
  const reply = await until("the agent's answer in the panel", () => inbound(/12 months/));
  p.ok(`The panel shows ${reply.sender.name}'s answer live: "${reply.text}"`);
}

export async function transcriptNote(w: World, p: Printer): Promise<void> {
  p.step('The transcript becomes a note on the deal');
  if (!ws.dealId || !ws.conversationId) throw new Error('no conversation about the deal');
  p.say(`After ${w.bridge.config.transcriptFlushMs / 1000} s without new messages the app writes the conversation to the deal (v1 Notes API)`);
  const has = () => w.pipedrive.notesOf('deal', ws.dealId!).find((n) => n.content.includes('12 months'));
  const note = has() ?? (await w.pipedrive.next('note', (n) => n.deal_id === ws.dealId && n.content.includes('12 months'), STEP_TIMEOUT_MS));
  const notes = w.pipedrive.notesOf('deal', ws.dealId);
  p.ok(`Pipedrive holds ${notes.length} note on deal ${ws.dealId} (note ${note.id}, ${Buffer.byteLength(note.content)} bytes of HTML):`);
  for (const line of note.content
    .replace(/<br\s*\/?>|<\/p>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    p.say(
      line
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    );
  }
  const conv = await until("the panel's transcript status", async () =>
    (await ui<{ conversations: Array<{ id: string; transcript?: { savedAt?: string; pending: boolean } }> }>(w, 'GET', `/conversations?record=deal:${ws.dealId}`)).conversations.find(
      (c) => c.id === ws.conversationId && c.transcript?.savedAt,
    ),
  );
  p.ok(`The panel says: "Saved to the deal's notes" (at ${conv.transcript!.savedAt})`);
}
