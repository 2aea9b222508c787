import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROPPED_ATTACHMENT, mapContent, UNSUPPORTED_CONTENT } from '../../../app/platforms/airy/content.ts';

// units.test.ts covers the main shapes; these pin the MIME type, name and size rules.

const one = (attachment: Record<string, unknown>) => {
  const { attachments } = mapContent({ attachments: [attachment] });
  assert.equal(attachments.length, 1, JSON.stringify(attachment));
  return attachments[0]!;
};

test('content: the MIME type comes from mime_type, then a type that is a MIME type, then the extension, then the kind', () => {
  assert.equal(one({ url: 'https://x/a.png', mime_type: 'image/webp' }).mimeType, 'image/webp');
  assert.equal(one({ url: 'https://x/a.png', type: 'image/gif' }).mimeType, 'image/gif');
  assert.equal(one({ url: 'https://x/a.PDF', type: 'file' }).mimeType, 'application/pdf', 'extensions are case-blind');
  assert.equal(one({ url: 'https://x/a.mp3?sig=1#t', type: 'file' }).mimeType, 'audio/mpeg', 'query and fragment are not the extension');
  assert.equal(one({ url: 'https://x/clip', type: 'video' }).mimeType, 'video/mp4');
  assert.equal(one({ url: 'https://x/voice', type: 'audio' }).mimeType, 'audio/mpeg');
  assert.equal(one({ url: 'https://x/blob.bin', type: 'file' }).mimeType, 'application/octet-stream');
  assert.equal(one({ url: 'https://x/blob', mime_type: 'nonsense' }).mimeType, 'application/octet-stream', 'a mime_type without a slash is ignored');
});

test('content: the name is the given one (trimmed), else the last path segment decoded, else "file"', () => {
  assert.equal(one({ url: 'https://x/a.pdf', name: '  Offer.pdf ' }).name, 'Offer.pdf');
  assert.equal(one({ url: 'https://x/a.pdf', name: '   ' }).name, 'a.pdf');
  assert.equal(one({ url: 'https://x/dir/Price%20list.pdf' }).name, 'Price list.pdf');
  assert.equal(one({ url: 'https://x/' }).name, 'file');
  assert.equal(one({ url: 'https://x/%E0%A4%A' }).name, 'file', 'a broken escape is no name');
  assert.equal(mapContent({ attachment: { type: 'image', payload: { url: 'https://x/i.jpg', name: 'Photo' } } }).attachments[0]!.name, 'Photo');
});

test('content: size is kept only when it is a finite number', () => {
  assert.equal(one({ url: 'https://x/a.pdf', size: 2048 }).size, 2048);
  assert.equal(one({ url: 'https://x/a.pdf', size: '2048' }).size, null);
  assert.equal(one({ url: 'https://x/a.pdf', size: Number.POSITIVE_INFINITY }).size, null);
});

test('content: entries without a link are not attachments; nothing usable is "unsupported"', () => {
  assert.deepEqual(mapContent({ text: 'hi', attachments: [null, 'x', { name: 'no url' }, { payload: {} }] }), { text: 'hi', attachments: [] });
  assert.equal(mapContent({ attachments: [{ name: 'no url' }] }).text, UNSUPPORTED_CONTENT);
  assert.equal(mapContent(['a', 'b']).text, UNSUPPORTED_CONTENT, 'an array is no content shape');
  assert.equal(mapContent(42).text, UNSUPPORTED_CONTENT);
  assert.equal(mapContent({ text: '' }).text, UNSUPPORTED_CONTENT);
  assert.deepEqual(mapContent(''), { text: '', attachments: [] }, 'a plain string is taken as is');
  // A dropped link alone still produces a message, saying what happened.
  assert.deepEqual(mapContent({ attachment: { payload: { url: 'data:text/html,<b>x' } } }), { text: DROPPED_ATTACHMENT, attachments: [] });
});
