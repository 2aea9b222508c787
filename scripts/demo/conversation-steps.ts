import { JOB } from '../../app/ground/job-kinds.ts';
import { airyIds } from '../../app/platforms/airy/ids.ts';
import { sourceIdFor } from '../../app/platforms/airy/adapter.ts';
import type { FakeSession } from '../../fakes/alvaria/server.ts';
import type { Printer } from './printer.ts';
import type { DemoChannel, Story } from './setup-steps.ts';
import { jobDone, listening, nextEvent, pipedriveGets, pipedriveHolds, pipedriveSends, type World } from './world.ts';

/** What the conversation steps add to the story. */
export interface Talk {
  /** Our id of the Pipedrive user's message to Airy, and Airy's conversation id for it. */
  airyMessageId?: string;
  airyConversationId?: string;
  alvariaSession?: FakeSession;
}

const QUOTE = new TextEncoder().encode('%PDF-1.4\n% a tiny quote for the demo\n');
const PHOTO = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ready(ch: DemoChannel | undefined): DemoChannel & { conversationId: string } {
  if (!ch?.conversationId) throw new Error('the channel was not connected and synced');
  return ch as DemoChannel & { conversationId: string };
}

async function conversationStatus(w: World, ch: DemoChannel & { conversationId: string }): Promise<string> {
  return (await pipedriveGets<{ status: string }>(w, `/${ch.providerChannelId}/conversations/${ch.conversationId}`)).status;
}

export async function sendToAiry(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.airy);
  p.step(`A Pipedrive user writes in "${ch.name}", with a PDF attached`);
  p.say('Pipedrive POSTs the message to the app as multipart (postMessage); the app stores it, answers, and queues the send');
  const sent = listening(jobDone(w, JOB.platformSend));
  const id = await pipedriveSends(w, ch.providerChannelId, ch.conversationId, 'Hello! Could you check the attached quote?', [{ name: 'quote.pdf', type: 'application/pdf', bytes: QUOTE }]);
  p.ok(`The app answered Pipedrive with message id ${id}`);
  await sent;
  const m = w.airy.model.messages.get(airyIds.message(sourceIdFor(ch.id), id));
  if (!m) throw new Error('Airy has no such message');
  const content = m.content as { text?: string; attachments?: Array<{ name: string; size: number; url: string }> };
  const file = content.attachments?.[0];
  if (!file) throw new Error('the attachment did not reach Airy');
  t.airyMessageId = id;
  t.airyConversationId = m.conversationId;
  p.ok(`Airy: a contact message "${content.text}" in conversation ${m.conversationId}`);
  const download = await fetch(file.url);
  p.ok(`Airy: with ${file.name} (${file.size} bytes) behind a signed URL of the app (GET → ${download.status}, ${(await download.arrayBuffer()).byteLength} bytes)`);
}

export async function sendToAlvaria(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.alvaria);
  p.step(`A Pipedrive user writes in "${ch.name}", with a photo attached`);
  p.say('No Alvaria session exists yet: the app opens one (Create Session), waits for the NEW_SESSION callback, then sends');
  const session = listening(nextEvent<[FakeSession]>(w.alvaria, 'session', 'Create Session at Alvaria'));
  const sent = listening(jobDone(w, JOB.platformSend));
  const id = await pipedriveSends(w, ch.providerChannelId, ch.conversationId, 'Hi, my router shows a red light (photo attached)', [{ name: 'router.png', type: 'image/png', bytes: PHOTO }]);
  p.ok(`The app answered Pipedrive with message id ${id}`);
  const [sess] = await session;
  t.alvariaSession = sess;
  p.ok(`Alvaria: session ${sess.id} for contact "${sess.contactName}" on work type ${sess.workTypeId}`);
  await sent;
  for (const m of sess.messages) p.ok(`Alvaria: ${m.text ? `text "${m.text}"` : `an ${m.attachment?.type} attachment at ${m.attachment?.url.split('?')[0]}`}`);
  const stored = await pipedriveGets<{ status: string }>(w, `/${ch.providerChannelId}/messages/${id}`);
  if (stored.status !== 'sent') throw new Error(`the message is "${stored.status}" in the app, not "sent"`);
  p.ok('The message is "sent" in the app (one Alvaria message per text and per attachment)');
}

export async function airyUserReplies(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.airy);
  if (!t.airyConversationId) throw new Error('no Airy conversation yet');
  p.step('An Airy user answers in the Airy inbox');
  p.say("Airy POSTs the reply to the app's action endpoint (signed with the source token); the app forwards it to Pipedrive");
  const text = 'Thanks! The quote looks right, we will confirm today.';
  const arrived = listening(pipedriveHolds(w, "the Airy user's reply", (m) => m.channel_id === ch.providerChannelId && m.message === text));
  const reply = await w.airy.userReply(t.airyConversationId, { text });
  p.ok(`Airy: the action call was answered, the reply is ${reply.deliveryState}`);
  const m = await arrived;
  const sender = await pipedriveGets<{ name: string }>(w, `/${ch.providerChannelId}/senders/${encodeURIComponent(m.sender_id)}`);
  p.ok(`Pipedrive: receiveMessage ${m.id} from ${sender.name} (${m.sender_id}): "${m.message}" (${m.status})`);
}

/** The fake Alvaria's control API: what an agent does in Alvaria's agent desktop. */
async function agentDoes(w: World, sessionId: string, action: 'agent-joined' | 'message' | 'end', body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${w.alvaria.url}/_control/sessions/${encodeURIComponent(sessionId)}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) throw new Error(`the fake Alvaria's ${action} answered ${res.status}`);
}

export async function alvariaAgentReplies(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.alvaria);
  const sess = t.alvariaSession;
  if (!sess) throw new Error('no Alvaria session yet');
  p.step('An Alvaria agent picks the session up and answers');
  p.say("Alvaria POSTs signed callbacks (RS256 JWT) to the callback URL: AGENT_JOINED, then the agent's message");
  const joined = listening(pipedriveHolds(w, '"John joined the conversation"', (m) => m.channel_id === ch.providerChannelId && m.message.includes('joined')));
  await agentDoes(w, sess.id, 'agent-joined', { agentAlias: 'John' });
  p.ok(`Pipedrive: "${(await joined).message}"`);
  const text = 'Hi, John here. Please unplug it for 30 seconds and plug it back in.';
  const reply = listening(pipedriveHolds(w, "the agent's reply", (m) => m.channel_id === ch.providerChannelId && m.message === text));
  await agentDoes(w, sess.id, 'message', { text });
  const m = await reply;
  const sender = await pipedriveGets<{ name: string }>(w, `/${ch.providerChannelId}/senders/${encodeURIComponent(m.sender_id)}`);
  p.ok(`Pipedrive: receiveMessage ${m.id} from ${sender.name}: "${m.message}"`);
}

export async function readReceipts(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.airy);
  const id = t.airyMessageId;
  if (!id || !t.airyConversationId) throw new Error('no Airy message to follow');
  p.step('Read receipts from Airy back to Pipedrive');
  p.say('The app listens on Airy\'s WebSocket: delivery_state "delivered", then unread_count 0 when an Airy user reads');
  const delivered = await pipedriveHolds(w, `${id} as delivered`, (m) => m.id === id && m.statuses.includes('delivered'));
  p.ok(`Pipedrive: message ${delivered.id} is now "delivered" (same id, so Pipedrive updates it in place)`);
  const read = listening(pipedriveHolds(w, `${id} as read`, (m) => m.id === id && m.statuses.includes('read')));
  await w.airy.read(t.airyConversationId);
  p.say('An Airy user opens the conversation');
  const m = await read;
  p.ok(`Pipedrive: message ${m.id} is now "read" (${m.statuses.join(' → ')})`);
  const conv = await pipedriveGets<{ seen: boolean }>(w, `/${ch.providerChannelId}/conversations/${ch.conversationId}`);
  p.ok(`getConversationById shows the conversation as seen: ${conv.seen}`);
}

export async function alvariaSessionEnds(w: World, p: Printer, s: Story, t: Talk): Promise<void> {
  const ch = ready(s.alvaria);
  const old = t.alvariaSession;
  if (!old) throw new Error('no Alvaria session yet');
  p.step('The Alvaria session ends, and the next message reopens the conversation');
  p.say('Alvaria ends sessions on its side (the agent closes it, or 4 hours pass): a SESSION_END callback from SYSTEM');
  const closed = listening(pipedriveHolds(w, 'the session-closed line', (m) => m.channel_id === ch.providerChannelId && m.message === 'The session was closed by Alvaria'));
  await agentDoes(w, old.id, 'end', { from: 'SYSTEM' });
  p.ok(`Pipedrive: "${(await closed).message}"`);
  p.ok(`The conversation is now "${await conversationStatus(w, ch)}"`);
  p.say('The Pipedrive user writes again');
  const session = listening(nextEvent<[FakeSession]>(w.alvaria, 'session', 'a new Create Session at Alvaria'));
  const sent = listening(jobDone(w, JOB.platformSend));
  await pipedriveSends(w, ch.providerChannelId, ch.conversationId, 'It works again, thank you!');
  const [fresh] = await session;
  await sent;
  t.alvariaSession = fresh;
  const first = fresh.messages[0];
  if (fresh.id === old.id || !first) throw new Error('the message did not go out in a new session');
  p.ok(`Alvaria: a new session ${fresh.id} (the old one was ${old.id}) carries "${first.text}"`);
  p.ok(`The conversation is "${await conversationStatus(w, ch)}" again`);
}
