import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrames, encodeFrame, FrameTooLargeError, StompDecoder } from '../../../app/platforms/airy/stomp.ts';

// units.test.ts covers decodeFrames across chunks; these pin the encoder and the streaming decoder.

test('STOMP encode: command, headers, blank line, body, NUL; CONNECT headers are sent unescaped', () => {
  assert.equal(encodeFrame('SUBSCRIBE', { id: '0', destination: '/events' }), 'SUBSCRIBE\nid:0\ndestination:/events\n\n\0');
  assert.equal(encodeFrame('DISCONNECT'), 'DISCONNECT\n\n\0');
  assert.equal(encodeFrame('SEND', { 'a:b': 'c\\d\re\nf' }, 'x'), 'SEND\na\\cb:c\\\\d\\re\\nf\n\nx\0');
  assert.equal(encodeFrame('CONNECT', { login: 'u:1', passcode: 'p\\w' }), 'CONNECT\nlogin:u:1\npasscode:p\\w\n\n\0');
});

test('STOMP decode: escapes round-trip, the first of a repeated header wins, CRLF lines and a body with blank lines', () => {
  const headers = { k: 'colon:backslash\\cr\rnl\n' };
  assert.deepEqual(decodeFrames(encodeFrame('MESSAGE', headers, 'b')).frames, [{ command: 'MESSAGE', headers, body: 'b' }]);
  assert.deepEqual(decodeFrames('MESSAGE\nx:1\nx:2\n\n\0').frames[0]!.headers, { x: '1' });
  assert.deepEqual(decodeFrames('MESSAGE\r\nx:1\r\n\r\nline1\n\nline3\0').frames[0], { command: 'MESSAGE', headers: { x: '1' }, body: 'line1\n\nline3' });
  assert.deepEqual(decodeFrames('CONNECTED\nbroken-line\nv:1.2\n\n\0').frames[0]!.headers, { v: '1.2' }, 'a line without a colon is skipped');
  assert.deepEqual(decodeFrames('\n\r\n\n').frames, [], 'heart-beats only');
});

test('STOMP streaming decoder: any split of the wire gives the same frames, heart-beats between them are dropped', () => {
  const wire = '\n' + encodeFrame('MESSAGE', { destination: '/events', id: '1' }, '{"a":1}') + '\r\n\n' + encodeFrame('RECEIPT', { 'receipt-id': '7' }) + '\n';
  const expected = decodeFrames(wire).frames;
  assert.equal(expected.length, 2);
  for (let size = 1; size <= wire.length; size++) {
    const d = new StompDecoder(1000);
    const frames = [];
    for (let i = 0; i < wire.length; i += size) frames.push(...d.push(wire.slice(i, i + size)));
    assert.deepEqual(frames, expected, `chunks of ${size}`);
  }
});

test('STOMP streaming decoder: a frame that grows past the limit without ending is an error, a frame at the limit is not', () => {
  const frame = encodeFrame('MESSAGE', {}, 'x'.repeat(20));
  const len = frame.length - 1; // without its NUL
  assert.equal(new StompDecoder(len).push(frame).length, 1);
  assert.throws(() => new StompDecoder(len - 1).push(frame), FrameTooLargeError);
  // Unended: the limit holds across chunks, before any NUL arrives.
  const d = new StompDecoder(50);
  d.push('MESSAGE\n\n' + 'y'.repeat(30));
  assert.throws(
    () => d.push('y'.repeat(30)),
    (e: unknown) => e instanceof FrameTooLargeError && /50 characters/.test(e.message),
  );
  // Heart-beats alone never count toward a frame.
  const idle = new StompDecoder(5);
  for (let i = 0; i < 100; i++) assert.deepEqual(idle.push('\n'), []);
});
