import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conversationJson, isoTime, MessageJsonCache, presentConversation, presentConversationsJson, presentMessage } from '../../../app/flows/channels-api/present.ts';
import type { ConversationView } from '../../../app/domain/conversation-pages.ts';
import type { Attachment, Participant } from '../../../app/ground/records.ts';

test('isoTime writes exactly what Date#toISOString writes', () => {
  const edges = [
    0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, 951_782_400_000, 951_868_799_999, 1_700_000_000_000, 1_764_633_600_000, 253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001, 1.5,
  ];
  for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  // A deterministic spread over 1970–9999, and a dense run across a day boundary.
  let x = 12345;
  for (let i = 0; i < 50_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const ms = Math.floor((x / 2147483648) * 253_402_300_800_000) + (i % 1000);
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  for (let ms = 1_764_633_600_000 - 5000; ms < 1_764_633_600_000 + 5000; ms += 7) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoTime(Number.NaN), RangeError);
});

/** The presentation as it was written before it was tuned (spreads, Dates): the bytes must not change. */
function reference(v: ConversationView, fileUrl: (id: string) => string) {
  const message = (m: ConversationView['messages'][number]) => ({
    id: m.id,
    status: m.status,
    created_at: new Date(m.createdAt).toISOString(),
    message: m.text,
    sender_id: m.senderId,
    attachments: m.attachments.map((a) => {
      const stored = a.storageKey !== null;
      return { id: a.id, type: a.mimeType, name: a.name, ...(a.size !== null ? { size: a.size } : {}), url: stored ? fileUrl(a.id) : (a.remoteUrl ?? ''), link_expires: stored };
    }),
  });
  return {
    id: v.conversation.id,
    link: v.conversation.link,
    status: v.conversation.status,
    seen: v.conversation.seen,
    ...(v.nextMessagesCursor ? { next_messages_cursor: v.nextMessagesCursor } : {}),
    messages: v.messages.map(message),
    participants: v.participants.map((p) => ({ id: p.id, name: p.name, role: p.role, ...(p.avatarUrl ? { avatar_url: p.avatarUrl } : {}) })),
  };
}

function sampleViews(): { views: ConversationView[]; fileUrl: (id: string) => string } {
  const fileUrl = (id: string) => `https://bridge.example/files/${encodeURIComponent(id)}?exp=1&sig=x`;
  const att = (id: string, over: Partial<Attachment>): Attachment => ({ id, messageSeq: 1, name: `${id} "ä"`, mimeType: 'image/png', size: 10, storageKey: null, remoteUrl: null, ...over });
  const person = (id: string, avatarUrl: string | null): Participant => ({ conversationPk: 1, id, role: 'end_user', name: `N ${id} \u2028`, avatarUrl, email: null });
  const texts = ['', 'plain', 'quote " back \\ nl \n tab \t', '\u0001\u001f\u007f', '\u2028\u2029 😀 中文', 'x'.repeat(3000)];
  const views: ConversationView[] = [true, false].map((more, i) => ({
    conversation: {
      pk: i,
      id: `c-${i} "q"`,
      channelId: 'ch',
      status: i ? 'closed' : 'open',
      seen: !i,
      link: i ? '' : 'https://x/deal/1',
      lastSeq: 9,
      platformRef: null,
      platformState: null,
      sourceUserKey: null,
      createdAt: 0,
      updatedAt: 0,
    },
    participants: [person('a', null), person('b', ''), person('c', 'https://x/a.png')],
    messages: texts.map((text, k) => ({
      seq: k,
      id: `m-${k}`,
      conversationPk: i,
      senderId: k % 2 ? 'a' : 'c',
      text,
      status: (['sent', 'delivered', 'read', 'failed'] as const)[k % 4]!,
      createdAt: 1_700_000_000_000 + k * 86_399_999,
      attachments: k % 3 ? [] : [att('s', { storageKey: 'k', size: null }), att('r', { remoteUrl: 'https://r/x?a=1&b="2"', size: 0 }), att('n', {})],
    })),
    nextMessagesCursor: more ? 'cursor.sig' : undefined,
  }));
  return { views, fileUrl };
}

test('a conversation is presented byte for byte as before: key order, omitted fields, signed and remote URLs', () => {
  const { views, fileUrl } = sampleViews();
  for (const v of views) assert.equal(JSON.stringify(presentConversation(v, { fileUrl })), JSON.stringify(reference(v, fileUrl)));
  const m = views[0]!.messages[0]!;
  assert.equal(JSON.stringify(presentMessage(m, { fileUrl })), JSON.stringify(reference(views[0]!, fileUrl).messages[0]));
});

test('pages written from cached message heads are the bytes JSON.stringify writes, and a changed field is never answered from the cache', () => {
  const { views, fileUrl } = sampleViews();
  const expected = (vs: ConversationView[], extra: Record<string, string>) => Buffer.from(JSON.stringify({ success: true, data: vs.map((v) => reference(v, fileUrl)), additional_data: extra }));
  const cache = new MessageJsonCache();
  for (const extra of [{}, { after: 'next "page"' }, {}] as Array<Record<string, string>>) assert.deepEqual(presentConversationsJson(views, extra, { fileUrl }, cache), expected(views, extra));
  assert.ok(cache.hits > 0);
  for (const v of views) assert.deepEqual(conversationJson(v, { fileUrl }, cache), Buffer.from(JSON.stringify(reference(v, fileUrl))));
  // The same seq with any shown field changed (a receipt, a reused seq): the answer follows the row.
  // Retention deleting a message's stored files too.
  for (const change of [{ status: 'read' as const }, { id: 'other' }, { text: 'edited' }, { senderId: 'z' }, { createdAt: 1 }, { attachments: [] }]) {
    const changed = views.map((v) => ({ ...v, messages: v.messages.map((m) => ({ ...m, ...change })) }));
    assert.deepEqual(presentConversationsJson(changed, {}, { fileUrl }, cache), expected(changed, {}));
  }
  assert.deepEqual(presentConversationsJson([], {}, { fileUrl }, cache), expected([], {}));
});

test('the message head cache stays within its byte bound', () => {
  const { views, fileUrl } = sampleViews();
  const cache = new MessageJsonCache(2000);
  for (let round = 0; round < 3; round++) {
    const shifted = views.map((v) => ({ ...v, messages: v.messages.map((m) => ({ ...m, seq: m.seq + round * 100 })) }));
    assert.deepEqual(presentConversationsJson(shifted, {}, { fileUrl }, cache), Buffer.from(JSON.stringify({ success: true, data: shifted.map((v) => reference(v, fileUrl)), additional_data: {} })));
    assert.ok(cache.sizeBytes <= 2000, String(cache.sizeBytes));
  }
  assert.ok(cache.size > 0);
});
