import { test } from 'node:test';
import assert from 'node:assert/strict';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import { seedConversation } from '../../support/seed.ts';
import { postMessage, startAiryWorld, outboxEvent } from '../../support/airy.ts';

test('both directions end to end: postMessage → Airy contact message → Airy user reply → Pipedrive, then delivered/read receipts', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const pdUser = `pd-user-${conv.id}`;

    // ── Pipedrive user → Airy ──
    const sent = outboxEvent(w.b, 'done', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, conv.id, 'Hello from Pipedrive', [{ name: 'quote.pdf', type: 'application/pdf', content: '%PDF-1.4 quote' }]);
    await sent;
    const airyConversationId = airyUuid(state.source_id, conv.id);
    const m = w.fake.model.messages.get(airyUuid(state.source_id, id));
    assert.ok(m, 'the fake holds the message under airyUuid(source + our id)');
    assert.equal(m.conversationId, airyConversationId);
    assert.equal(m.channelId, state.channel_id);
    assert.equal(m.senderId, pdUser);
    assert.equal(m.fromContact, true);
    assert.ok(Math.abs(m.sentAt - Date.now()) < 60_000, 'sent_at is epoch milliseconds');
    const content = m.content as { text: string; attachments: Array<{ type: string; mime_type: string; url: string; name: string; size: number }> };
    assert.equal(content.text, 'Hello from Pipedrive');
    assert.equal(content.attachments.length, 1);
    assert.deepEqual({ ...content.attachments[0], url: undefined }, { type: 'file', mime_type: 'application/pdf', name: 'quote.pdf', size: 14, url: undefined });
    const file = await fetch(content.attachments[0]!.url);
    assert.equal(file.status, 200);
    assert.equal(await file.text(), '%PDF-1.4 quote');
    assert.deepEqual(w.fake.model.metadataOf(`conversation:${airyConversationId}`).contact, { display_name: 'Pat Pipedrive', email: 'pat@example.com' });

    // Airy stored it (delivery_state DELIVERED on the WebSocket) → Pipedrive hears `delivered`, same id.
    const delivered = await w.gateway.next((b) => b.id === id && b.status === 'delivered');
    assert.equal(delivered.conversation_id, conv.id);
    assert.equal(delivered.sender_id, pdUser);
    assert.equal(delivered.channel_id, channel.providerChannelId);

    // ── Airy user → Pipedrive ──
    const reply = await w.fake.userReply(airyConversationId, { text: 'Hi Pat, Airy here' });
    assert.equal(reply.deliveryState, 'DELIVERED');
    const action = JSON.parse(w.fake.actionCalls.at(-1)!.body);
    // Airy's source_conversation_id holds the latest contact sender, not our conversation id.
    assert.equal(action.payload.conversation.source_conversation_id, pdUser);
    const ourId = (w.fake.model.metadataOf(`message:${reply.id}`).source as { id: string }).id;
    assert.match(ourId, /^m_/);
    const got = await w.gateway.next((b) => b.id === ourId);
    assert.equal(got.conversation_id, conv.id);
    // 1:1: the reply speaks as the conversation's end_user, a participant Pipedrive already knows.
    assert.equal(got.sender_id, 'agent-1');
    assert.equal(got.status, 'sent');
    assert.equal(got.message, 'Hi Pat, Airy here');
    const sender = await w.b.call(`/api/channels/${channel.providerChannelId}/senders/agent-1`);
    assert.equal(((await sender.json()) as { data: { name: string } }).data.name, 'Agent One');
    const view0 = await w.b.call(`/api/channels/${channel.providerChannelId}/conversations/${conv.id}`);
    assert.deepEqual(
      ((await view0.json()) as { data: { participants: Array<{ role: string }> } }).data.participants.map((p) => p.role),
      ['source_user', 'end_user'],
    );

    // ── an Airy user opens the conversation: unread_count 0 → our message `read`, conversation seen ──
    await w.fake.read(airyConversationId);
    const read = await w.gateway.next((b) => b.id === id && b.status === 'read');
    assert.equal(read.conversation_id, conv.id);
    const view = await w.b.call(`/api/channels/${channel.providerChannelId}/conversations/${conv.id}`);
    const data = ((await view.json()) as { data: { seen: boolean; messages: Array<{ id: string; status: string; sender_id: string }> } }).data;
    assert.equal(data.seen, true);
    assert.deepEqual(
      data.messages.map((x) => [x.id, x.status, x.sender_id]),
      [
        [id, 'read', pdUser],
        [ourId, 'sent', 'agent-1'],
      ],
    );

    // A new contact message makes the conversation unseen again.
    // It is unseen as soon as postMessage has answered, not once Airy's unread_count event has
    // been processed (that event races the `delivered` status on its way to Pipedrive).
    const again = outboxEvent(w.b, 'done', 'platform.send');
    await postMessage(w.b, channel.providerChannelId, conv.id, 'One more thing');
    const right = await w.b.call(`/api/channels/${channel.providerChannelId}/conversations/${conv.id}`);
    assert.equal(((await right.json()) as { data: { seen: boolean } }).data.seen, false);
    await again;
    await w.gateway.next((b) => b.status === 'delivered' && b.message === 'One more thing');
    const after = await w.b.inbox.findConversation(channel, { id: conv.id });
    assert.equal(after?.seen, false);
  } finally {
    await w.close();
  }
});
