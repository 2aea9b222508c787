import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapContent, UNSUPPORTED_CONTENT, DROPPED_ATTACHMENT } from '../../../app/platforms/airy/content.ts';
import { buildIngest, sourceConversationId } from '../../../app/platforms/airy/outbound.ts';
import { airySignature, verifyAirySignature } from '../../../app/platforms/airy/verify.ts';
import { decodeFrames, encodeFrame } from '../../../app/platforms/airy/stomp.ts';
import type { Conversation, Message, Participant } from '../../../app/ground/records.ts';

test('mapContent: string, {text}, our attachments, Messenger-style attachment, and unknown shapes', () => {
  assert.deepEqual(mapContent('Hello world'), { text: 'Hello world', attachments: [] });
  assert.deepEqual(mapContent({ text: 'Hi' }), { text: 'Hi', attachments: [] });
  assert.deepEqual(mapContent({ text: '', attachments: [{ type: 'file', mime_type: 'application/pdf', url: 'https://x/y/a.pdf', name: 'Quote', size: 10 }] }), {
    text: '',
    attachments: [{ url: 'https://x/y/a.pdf', name: 'Quote', mimeType: 'application/pdf', size: 10 }],
  });
  assert.deepEqual(mapContent({ attachment: { type: 'image', payload: { url: 'https://x/img' } } }).attachments, [{ url: 'https://x/img', name: 'img', mimeType: 'image/jpeg', size: null }]);
  // Not http(s): dropped, and the text says so.
  assert.deepEqual(mapContent({ attachments: [{ url: 'javascript:alert(1)' }] }), { text: DROPPED_ATTACHMENT, attachments: [] });
  assert.deepEqual(mapContent({ text: 'see', attachments: [{ url: 'JavaScript:alert(1)' }, { url: 'https://x/a.png' }] }).text, `see\n${DROPPED_ATTACHMENT}`);
  assert.equal(mapContent(null).text, UNSUPPORTED_CONTENT);
  assert.equal(mapContent({ blocks: [] }).text, UNSUPPORTED_CONTENT);
});

test('signature: lowercase hex HMAC-SHA256 over the exact bytes; shape checked before a timing-safe compare', () => {
  const body = Buffer.from('{"type":"message.send"}');
  const sig = airySignature('tok', body);
  assert.match(sig, /^[0-9a-f]{64}$/);
  assert.deepEqual(verifyAirySignature('tok', body, sig), { ok: true });
  assert.equal(verifyAirySignature('tok', body, [sig, 'x']).ok, true);
  assert.equal(verifyAirySignature('other', body, sig).ok, false);
  assert.equal(verifyAirySignature('tok', body, undefined).ok, false);
  assert.equal(verifyAirySignature('tok', body, sig.slice(1)).ok, false);
  assert.equal(verifyAirySignature('tok', Buffer.from('{"type": "message.send"}'), sig).ok, false);
});

test('STOMP codec: frames split across chunks, heart-beat EOLs, escaped headers', () => {
  const wire = '\n' + encodeFrame('MESSAGE', { destination: '/events', 'x:y': 'a\nb' }, '{"a":1}') + '\r\n' + encodeFrame('RECEIPT', { 'receipt-id': '7' });
  const first = decodeFrames(wire.slice(0, 20));
  assert.equal(first.frames.length, 0);
  const all = decodeFrames(first.rest + wire.slice(20));
  assert.deepEqual(all.frames, [
    { command: 'MESSAGE', headers: { destination: '/events', 'x:y': 'a\nb' }, body: '{"a":1}' },
    { command: 'RECEIPT', headers: { 'receipt-id': '7' }, body: '' },
  ]);
  assert.equal(all.rest, '');
});

test('buildIngest: from_contact, our ids, epoch-ms sent_at, display name metadata; Airy-opened conversations keep their handle', () => {
  const conversation = { id: 'conv-1', platformState: null } as Conversation;
  const message = { id: 'm_1', text: 'Hi', createdAt: 1_700_000_000_123 } as Message;
  const sender = { id: 'pd-1', name: 'Pat', email: null, avatarUrl: 'https://a/p.png' } as Participant;
  const body = buildIngest({ conversation, message, sender, files: [] }, 'airy-pcid');
  assert.deepEqual(body.messages[0], {
    source_message_id: 'm_1',
    source_conversation_id: 'conv-1',
    source_channel_id: 'airy-pcid',
    source_sender_id: 'pd-1',
    content: { text: 'Hi', attachments: [] },
    from_contact: true,
    sent_at: 1_700_000_000_123,
  });
  assert.deepEqual(body.metadata, [{ namespace: 'conversation', source_id: 'conv-1', metadata: { contact: { display_name: 'Pat', avatar_url: 'https://a/p.png' } } }]);
  assert.equal(sourceConversationId({ id: 'airy-x', platformState: '{"source_conversation_id":"pd-42"}' } as Conversation), 'pd-42');
  assert.equal(sourceConversationId({ id: 'c', platformState: 'garbage' } as Conversation), 'c');
});
