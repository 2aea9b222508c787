import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findMessageContext } from '../../app/store/message-context.ts';
import { startTestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';

test('a job reads its message, channel, conversation and sender in one joined read; missing parts come back undefined', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);

    // A Pipedrive user's message: its sender is the conversation's source_user.
    const posted = await b.inbox.postMessage(channel, { conversationId: conversation.id, text: 'hello from Pipedrive', files: [] });
    const out = await findMessageContext(b.db, posted.id);
    assert.ok(out);
    assert.equal(out.message.id, posted.id);
    assert.equal(out.message.text, 'hello from Pipedrive');
    assert.deepEqual(out.message.attachments, []);
    assert.equal(out.channel?.id, channel.id);
    assert.equal(out.channel?.providerChannelId, channel.providerChannelId);
    assert.equal(out.conversation?.pk, conversation.pk);
    assert.equal(out.conversation?.id, conversation.id);
    assert.equal(typeof out.conversation?.seen, 'boolean');
    assert.equal(out.sender?.role, 'source_user');
    assert.equal(out.sender?.id, posted.senderId);

    // A platform message: the sender is an end_user, so there is no source_user sender.
    const inbound = await seedInbound(b, channel, conversation, 'hello from the platform');
    const inContext = await findMessageContext(b.db, inbound.id);
    assert.ok(inContext);
    assert.equal(inContext.sender, undefined);
    assert.equal(inContext.conversation?.pk, conversation.pk);

    // A deleted channel is still read (the job names the reason), with its status.
    await b.inbox.deleteChannel(channel);
    assert.equal((await findMessageContext(b.db, posted.id))?.channel?.status, 'deleted');

    assert.equal(await findMessageContext(b.db, 'm_does_not_exist'), undefined);
  } finally {
    await b.close();
  }
});
