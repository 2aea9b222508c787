import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlatformPort } from '../../../app/domain/platform-port.ts';
import { createLogger } from '../../../app/ground/log.ts';
import type { Channel, Conversation, Message, Participant } from '../../../app/ground/records.ts';
import { airyIds } from '../../../app/platforms/airy/ids.ts';
import { handleAction } from '../../../app/platforms/airy/inbound.ts';
import { airySignature, SIGNATURE_HEADER } from '../../../app/platforms/airy/verify.ts';

/**
 * The adapter against a small in-memory port: no database, no bridge. What it records is what
 * the domain would be asked to record.
 */
function fakePort() {
  const conversations: Conversation[] = [];
  const participants: Participant[] = [];
  const messages: Message[] = [];
  const keys = new Set<string>();
  const unused = (name: string) => () => Promise.reject(new Error(`${name} is not used here`));
  const port: PlatformPort = {
    async findConversation(_channel, by) {
      return conversations.find((c) => ('id' in by ? c.id === by.id : 'platformRef' in by ? c.platformRef === by.platformRef : c.sourceUserKey === by.sourceUserKey));
    },
    knownConversation(channel, by) {
      return port.findConversation(channel, by);
    },
    async ensureConversation(channel, spec) {
      const found = conversations.find((c) => c.id === spec.id);
      if (found) return found;
      const c: Conversation = {
        pk: conversations.length + 1,
        id: spec.id,
        channelId: channel.id,
        status: 'open',
        seen: false,
        link: spec.link ?? '',
        lastSeq: 0,
        platformRef: spec.platformRef ?? null,
        platformState: spec.platformState ?? null,
        sourceUserKey: spec.sourceUserKey ?? null,
        createdAt: 0,
        updatedAt: 0,
      };
      conversations.push(c);
      for (const p of spec.participants) participants.push({ ...p, conversationPk: c.pk });
      return c;
    },
    async updateConversation(conversation, patch) {
      Object.assign(
        conversations.find((c) => c.pk === conversation.pk)!,
        patch,
      );
    },
    async participants(conversation) {
      return participants.filter((p) => p.conversationPk === conversation.pk);
    },
    async findParticipant(_channel, id) {
      return participants.find((p) => p.id === id);
    },
    async upsertParticipant(conversation, p) {
      participants.push({ ...p, conversationPk: conversation.pk });
    },
    async recordInbound(channel, m) {
      const key = `${m.dedupe.source}|${m.dedupe.key}`;
      if (keys.has(key)) return { duplicate: true };
      keys.add(key);
      const message: Message = {
        seq: messages.length + 1,
        id: `m_${messages.length + 1}`,
        conversationPk: m.conversation.pk,
        channelId: channel.id,
        platformMessageId: m.platformMessageId,
        origin: m.origin ?? 'platform',
        senderId: m.senderId,
        text: m.text,
        status: 'sent',
        error: null,
        createdAt: m.createdAt,
        updatedAt: m.createdAt,
        attachments: [],
      };
      messages.push(message);
      return { message };
    },
    async findMessageByPlatformId(channel, id) {
      return messages.find((m) => m.channelId === channel.id && m.platformMessageId === id);
    },
    eventSeen: unused('eventSeen'),
    recordEvent: unused('recordEvent'),
    setMessageStatus: unused('setMessageStatus'),
    markOutgoingRead: unused('markOutgoingRead'),
    wakePlatformSends: unused('wakePlatformSends'),
    channelsOf: unused('channelsOf'),
  };
  return { port, conversations, participants, messages };
}

const channel = { id: 'ch_1', platform: 'airy', status: 'active' } as Channel;
const state = { source_id: 'pipedrive-ch_1', source_token: 'source-token', channel_id: 'airy-channel', source_channel_id: 'pd-channel' };
const config = { api_url: 'https://airy.example', system_token: 'system' };

test('an Airy reply in a new conversation is recorded through the port alone; its redelivery answers the stored id', async () => {
  const fake = fakePort();
  const services = { domain: fake.port, log: createLogger('silent') };
  const body = JSON.stringify({
    type: 'message.send',
    payload: { message: { id: 'airy-msg-1', source_recipient_id: 'pd-7-42', content: { text: 'hello from Airy' }, sent_at: 1_700_000_000_000 }, conversation: null },
  });
  const request = () => ({ headers: { [SIGNATURE_HEADER]: airySignature(state.source_token, body) }, rawBody: Buffer.from(body) });

  const first = await handleAction(services, { channel, config, state }, request());
  assert.equal(first.status, 200);
  const [conversation] = fake.conversations;
  assert.equal(conversation?.platformRef, airyIds.conversation(state.source_id, 'pd-7-42'));
  assert.deepEqual(
    fake.participants.map((p) => [p.id, p.role]),
    [
      ['pd-7-42', 'source_user'],
      ['airy-agent', 'end_user'],
    ],
  );
  assert.equal(fake.messages.length, 1);
  assert.equal(fake.messages[0]?.text, 'hello from Airy');
  assert.deepEqual(first.body, { source_message_id: fake.messages[0]?.id });

  const again = await handleAction(services, { channel, config, state }, request());
  assert.deepEqual(again, first);
  assert.equal(fake.messages.length, 1);
});
