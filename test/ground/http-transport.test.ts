import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isAxiosError } from 'axios';
import { pipedriveAxios } from '../../app/pipedrive/oauth-client.ts';
import { deadlineAxios } from '../../app/ground/security/outbound-policy.ts';
import { freePort } from '../support/harness.ts';

/** A real HTTP server whose answer each test sets; it records what arrived. */
async function host(answer: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('Pipedrive transport: JSON and form bodies arrive as sent, with the instance and call headers; a JSON answer is parsed', async () => {
  const h = await host((_req, _body, res) => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-ratelimit-remaining': '79' });
    res.end('{"success":true,"data":{"id":7}}');
  });
  try {
    const http = pipedriveAxios();
    const json = await http.post(`${h.url}/api/v1/notes?x=1`, { content: 'héllo' }, { headers: { Authorization: 'Bearer t' } });
    assert.equal(json.status, 201);
    assert.deepEqual(json.data, { success: true, data: { id: 7 } });
    assert.equal(json.headers['x-ratelimit-remaining'], '79');
    const form = await http.post(`${h.url}/oauth/token`, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r' }).toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 201);
    const [first, second] = h.seen;
    assert.equal(first!.method, 'POST');
    assert.equal(first!.url, '/api/v1/notes?x=1');
    assert.deepEqual(JSON.parse(first!.body), { content: 'héllo' });
    assert.match(String(first!.headers['content-type']), /^application\/json/);
    assert.equal(first!.headers['authorization'], 'Bearer t');
    assert.equal(first!.headers['user-agent'], 'pd-bridge');
    assert.equal(first!.headers['accept-encoding'], 'identity');
    assert.equal(second!.body, 'grant_type=refresh_token&refresh_token=r');
    assert.equal(second!.headers['content-type'], 'application/x-www-form-urlencoded');
  } finally {
    await h.close();
  }
});

test('Pipedrive transport: a 429 and a 500 reject as axios errors that keep status, headers and body', async () => {
  let status = 429;
  const h = await host((_req, _body, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '3' });
    res.end('{"success":false,"error":"Rate limit exceeded"}');
  });
  try {
    const http = pipedriveAxios();
    for (const s of [429, 500]) {
      status = s;
      await assert.rejects(http.get(`${h.url}/api/v1/users/me`), (err: unknown) => {
        assert.ok(isAxiosError(err));
        assert.equal(err.response?.status, s);
        assert.equal(err.response?.headers['retry-after'], '3');
        assert.deepEqual(err.response?.data, { success: false, error: 'Rate limit exceeded' });
        assert.equal(err.code, s === 429 ? 'ERR_BAD_REQUEST' : 'ERR_BAD_RESPONSE');
        return true;
      });
    }
  } finally {
    await h.close();
  }
});

test('Pipedrive transport: a gzip answer is decoded even though identity was asked for', async () => {
  const h = await host((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(gzipSync('{"success":true,"data":[1,2,3]}'));
  });
  try {
    assert.deepEqual((await pipedriveAxios().get(`${h.url}/api/v1/notes`)).data, { success: true, data: [1, 2, 3] });
  } finally {
    await h.close();
  }
});

test('Pipedrive transport: an answer over the size cap is refused while it streams', async () => {
  const h = await host((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let sent = 0;
    const more = () => {
      while (sent < 64 && res.write(chunk)) sent++;
      if (sent < 64) res.once('drain', more);
      else res.end();
    };
    res.on('close', () => (sent = 64));
    more();
  });
  try {
    await assert.rejects(pipedriveAxios().get(`${h.url}/api/v1/notes`), (err: unknown) => {
      assert.ok(isAxiosError(err));
      assert.equal(err.code, 'ERESPONSETOOLARGE');
      assert.match(err.message, /the answer was larger than 8388608 bytes/);
      return true;
    });
  } finally {
    await h.close();
  }
});

test('Pipedrive transport: the caller’s abort cancels the call (not a timeout); no listener answers: a network error without a response', async () => {
  const h = await host(() => {
    // never answers
  });
  try {
    const http = pipedriveAxios();
    const caller = new AbortController();
    const pending = http.get(`${h.url}/api/v1/users/me`, { signal: caller.signal });
    while (h.seen.length === 0) await new Promise((r) => setImmediate(r));
    caller.abort();
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(isAxiosError(err));
      assert.equal(err.code, 'ERR_CANCELED');
      return true;
    });
    const port = await freePort();
    await assert.rejects(http.get(`http://127.0.0.1:${port}/api/v1/users/me`), (err: unknown) => {
      assert.ok(isAxiosError(err));
      assert.equal(err.response, undefined);
      assert.equal(err.code, 'ECONNREFUSED');
      return true;
    });
  } finally {
    await h.close();
  }
});

test('deadline: a streamed answer stays under the call’s deadline after its headers arrive', async () => {
  const h = await host((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const drip = setInterval(() => res.write('x'), 50);
    res.on('close', () => clearInterval(drip));
  });
  try {
    const http = deadlineAxios({ timeoutMs: 300, maxBytes: 1024 * 1024 });
    const res = await http.get<NodeJS.ReadableStream>(`${h.url}/file`, { responseType: 'stream' });
    const outcome = await new Promise<string>((resolve) => {
      const stop = setTimeout(() => resolve('still streaming after 5 s'), 5000);
      res.data.on('data', () => {});
      res.data.on('error', () => (clearTimeout(stop), resolve('aborted')));
      res.data.on('end', () => (clearTimeout(stop), resolve('ended')));
    });
    assert.equal(outcome, 'aborted');
  } finally {
    await h.close();
  }
});

test('Pipedrive transport: a compressed answer cut off by the deadline fails the call as a timeout (it does not hang)', async () => {
  const h = await host((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    const zipped = gzipSync(JSON.stringify({ success: true, data: 'x'.repeat(10_000) }));
    res.write(zipped.subarray(0, zipped.length >> 1));
    // …and the rest never comes.
  });
  try {
    const outcome = await Promise.race([
      pipedriveAxios(300)
        .get(`${h.url}/api/v1/notes`)
        .then(
          () => 'answered',
          (err: unknown) => (isAxiosError(err) ? `rejected ${err.code}` : 'rejected'),
        ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5000).unref()),
    ]);
    assert.equal(outcome, 'rejected ETIMEDOUT');
  } finally {
    await h.close();
  }
});
