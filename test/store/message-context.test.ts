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

    // Attachments come with the same read.
    const withFiles = await b.platform.recordInbound(channel, {
      dedupe: { source: 'seed', key: 'with-files' },
      conversation,
      senderId: 'agent-1',
      text: 'two files',
      platformMessageId: null,
      createdAt: Date.now(),
      attachments: [
        { name: 'a.png', mimeType: 'image/png', size: 10, url: 'https://example.com/a.png' },
        { name: 'b.pdf', mimeType: 'application/pdf', size: null, url: 'https://example.com/b.pdf' },
      ],
    });
    assert.ok('message' in withFiles);
    const files = await findMessageContext(b.db, withFiles.message.id);
    assert.deepEqual(files?.message.attachments.map((a) => [a.name, a.mimeType, a.size, a.remoteUrl, a.messageSeq]).sort(), [
      ['a.png', 'image/png', 10, 'https://example.com/a.png', withFiles.message.seq],
      ['b.pdf', 'application/pdf', null, 'https://example.com/b.pdf', withFiles.message.seq],
    ]);
    assert.equal(files?.message.text, 'two files');

    // The installation's surface, when it chose one (none here: the channel has no installation).
    assert.equal(out.surface, undefined);

    // A deleted channel is still read (the job names the reason), with its status.
    await b.inbox.deleteChannel(channel);
    assert.equal((await findMessageContext(b.db, posted.id))?.channel?.status, 'deleted');

    assert.equal(await findMessageContext(b.db, 'm_does_not_exist'), undefined);
  } finally {
    await b.close();
  }
});
