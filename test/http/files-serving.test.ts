import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../app/ground/log.ts';
import { startTestBridge, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import { uploadFiles } from '../support/files.ts';

describe('/files serves user bytes inertly', () => {
  let b: TestBridge;
  let urls: Map<string, string>;
  const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

  before(async () => {
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, env: { MAX_UPLOAD_FILES: '20' } });
    const channel = await seedChannel(b);
    urls = await uploadFiles(b, channel, await seedConversation(b, channel), [
      { name: 'page.html', type: 'text/html', data: '<script>fetch("/admin/api/channels")</script>' },
      { name: 'pic.svg', type: 'image/svg+xml', data: '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>' },
      { name: 'app.js', type: 'application/javascript', data: 'alert(1)' },
      { name: 'notes.txt', type: 'text/plain', data: 'hello' },
      { name: 'data.xml', type: 'application/xml', data: '<x/>' },
      { name: 'blob.bin', type: 'application/octet-stream', data: 'x' },
      { name: 'photo.png', type: 'image/png', data: png },
      { name: 'shout.PNG', type: 'IMAGE/PNG', data: png },
      { name: 'doc.pdf', type: 'application/pdf', data: '%PDF-1.4' },
      { name: 'clip.mp4', type: 'video/mp4', data: 'x' },
      { name: 'voice.ogg', type: 'audio/ogg', data: 'x' },
      { name: 'résumé.html', type: 'text/html; charset=utf-8', data: '<b>x</b>' },
    ]);
  });
  after(() => b.close());

  test('active types download as application/octet-stream attachments; raster images, PDF, audio and video stay inline', async () => {
    const expected: Record<string, [string, 'inline' | 'attachment']> = {
      'page.html': ['application/octet-stream', 'attachment'],
      'pic.svg': ['application/octet-stream', 'attachment'],
      'app.js': ['application/octet-stream', 'attachment'],
      'notes.txt': ['application/octet-stream', 'attachment'],
      'data.xml': ['application/octet-stream', 'attachment'],
      'blob.bin': ['application/octet-stream', 'attachment'],
      'photo.png': ['image/png', 'inline'],
      'shout.PNG': ['image/png', 'inline'],
      'doc.pdf': ['application/pdf', 'inline'],
      'clip.mp4': ['video/mp4', 'inline'],
      'voice.ogg': ['audio/ogg', 'inline'],
      'résumé.html': ['application/octet-stream', 'attachment'],
    };
    for (const [name, [type, disposition]] of Object.entries(expected)) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(urls.get(name)!, { method });
        assert.equal(res.status, 200, `${method} ${name}`);
        assert.equal(res.headers.get('content-type'), type, `${method} ${name}`);
        assert.ok(res.headers.get('content-disposition')!.startsWith(`${disposition}; filename="`), `${method} ${name}: ${res.headers.get('content-disposition')}`);
        assert.match(res.headers.get('content-disposition')!, new RegExp(`filename\\*=UTF-8''${encodeURIComponent(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
        assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
        await res.arrayBuffer();
      }
    }
    // Non-ASCII names keep an ASCII fallback next to the UTF-8 one.
    assert.match((await fetch(urls.get('résumé.html')!, { method: 'HEAD' })).headers.get('content-disposition')!, /^attachment; filename="r_sum_.html"; filename\*=UTF-8''r%C3%A9sum%C3%A9.html$/);
  });
});

/** A client that sends a GET and, once the response headers are in, never reads another byte. */
function stalledReader(url: string): Promise<{ socket: Socket; head: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let head = '';
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.on('connect', () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`));
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ socket, head: head.slice(0, end) });
    };
    socket.on('data', onData);
  });
}

test('downloads are capped (503 + Retry-After) and a reader that never reads is dropped after the send timeout', { timeout: 60_000 }, async () => {
  const logs: Array<Record<string, unknown>> = [];
  const stalls: Array<() => void> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const l = JSON.parse(line) as Record<string, unknown>;
        logs.push(l);
        if (l.msg === 'file download stalled; connection dropped') stalls.shift()?.();
      }
      done();
    },
  });
  const b = await startTestBridge({
    platforms: { test: new TestPlatform().factory() },
    logger: createLogger('info', sink),
    env: { FILE_MAX_DOWNLOADS: '2', FILE_SEND_TIMEOUT_SECONDS: '1', MAX_UPLOAD_BYTES: String(16 * 1024 * 1024) },
  });
  const sockets: Socket[] = [];
  try {
    const channel = await seedChannel(b);
    // Far more than the kernel's socket buffers hold, so a client that stops reading stalls the server's writes.
    const big = new Uint8Array(12 * 1024 * 1024).fill(7);
    const urls = await uploadFiles(b, channel, await seedConversation(b, channel), [{ name: 'big.mp4', type: 'video/mp4', data: big }]);
    const url = urls.get('big.mp4')!;

    const dropped = [new Promise<void>((r) => stalls.push(r)), new Promise<void>((r) => stalls.push(r))];
    for (let i = 0; i < 2; i++) {
      const slow = await stalledReader(url);
      sockets.push(slow.socket);
      assert.match(slow.head, /^HTTP\/1\.1 200/);
    }
    // Both slots are held by clients that do not read: the next download is told to come back.
    const third = await stalledReader(url);
    sockets.push(third.socket);
    assert.match(third.head, /^HTTP\/1\.1 503/);
    assert.match(third.head, /\r\nretry-after: 5\r\n/i);
    const refused = await fetch(url);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.deepEqual(await refused.json(), { success: false, data: { message: 'Too many downloads in progress; retry shortly', code: 'SERVICE_UNAVAILABLE' } });
    // HEAD (Pipedrive's link check) opens no file and is never refused for it.
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 200);

    // The send timeout drops both stalled readers and frees their slots.
    await Promise.all(dropped);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, big.byteLength);
    const errors = logs.filter((l) => l.level === 50);
    assert.deepEqual(errors, [], 'a stalled reader is not a server error');
  } finally {
    for (const s of sockets) s.destroy();
    await b.close();
  }
});
