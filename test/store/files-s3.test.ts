import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../app/ground/config.ts';
import { startTestBridge, type TestBridge } from '../support/harness.ts';
import { startS3 } from '../support/s3.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';

/**
 * FILES_STORE=s3://bucket/prefix: two app processes (one database, one bucket, one APP_SECRET)
 * behind one load balancer serve each other's attachments at the same signed URLs.
 */
describe('attachments in an S3-compatible bucket', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let a: TestBridge;
  let b: TestBridge;
  let client: S3Client;
  let channel: Channel;
  let conv: Conversation;
  const MAX = 6 * 1024 * 1024 + 100;

  before(async () => {
    s3 = await startS3();
    const env = { ...s3.env('attachments'), MAX_UPLOAD_BYTES: String(MAX) };
    a = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, env });
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, shareDb: a, env: { ...env, APP_SECRET: a.config.appSecret } });
    client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    channel = await seedChannel(a);
    conv = await seedConversation(a, channel);
  });
  after(async () => {
    client?.destroy();
    await b?.close();
    await a?.close();
    await s3?.close();
  });

  // The bucket's objects as s3rver keeps them on disk (its ListObjects rejects the current SDK's signatures).
  const keys = async () =>
    readdirSync(join(s3.dir, s3.bucket), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('._S3rver_object'))
      .map((f) => f.slice(0, -'._S3rver_object'.length))
      .sort();

  async function post(via: TestBridge, files: Array<{ name: string; type: string; data: Uint8Array }>, conversationId = conv.id) {
    const fd = new FormData();
    fd.append('conversationId', conversationId);
    fd.append('message', 'with files');
    for (const f of files) fd.append('files', new Blob([f.data], { type: f.type }), f.name);
    return via.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: fd });
  }

  /** The attachments' signed URLs as getMessageById answers them on `via`. */
  async function urls(via: TestBridge, messageId: string): Promise<string[]> {
    const msg = await (await via.call(`/api/channels/${channel.providerChannelId}/messages/${messageId}`)).json();
    return msg.attachments.map((x: { url: string }) => x.url);
  }
  /** The same signed path, asked of the other process (a load balancer may route there). */
  const at = (url: string, via: TestBridge) => via.url + new URL(url).pathname + new URL(url).search;

  test('a file uploaded through one process is served by the other, both ways, streamed (multipart past 5 MiB)', async () => {
    const small = new TextEncoder().encode('hello from A');
    const big = randomBytes(6 * 1024 * 1024 + 7); // over lib-storage's 5 MiB part: a multipart upload
    const resA = await post(a, [
      { name: 'a.txt', type: 'text/plain', data: small },
      { name: 'big.bin', type: 'application/octet-stream', data: big },
    ]);
    assert.equal(resA.status, 200, await resA.clone().text());
    const idA = (await resA.json()).data.id;
    const resB = await post(b, [{ name: 'b.png', type: 'image/png', data: new Uint8Array([137, 80, 78, 71, 1, 2]) }]);
    assert.equal(resB.status, 200, await resB.clone().text());
    const idB = (await resB.json()).data.id;

    // The bytes are in the bucket under the prefix, nothing on either process's disk.
    const stored = await keys();
    assert.equal(stored.length, 3);
    for (const k of stored) assert.match(k, /^attachments\/a_[0-9a-f]+$/);
    assert.deepEqual(readdirSync(a.files.stagingDir), []);
    assert.deepEqual(readdirSync(b.files.stagingDir), []);

    const [smallUrl, bigUrl] = await urls(a, idA);
    const fromB = await fetch(at(smallUrl!, b));
    assert.equal(fromB.status, 200);
    assert.equal(await fromB.text(), 'hello from A');
    const bigFromB = await fetch(at(bigUrl!, b));
    assert.equal(bigFromB.headers.get('content-length'), String(big.length));
    assert.ok(Buffer.from(await bigFromB.arrayBuffer()).equals(big), 'the 6 MiB file comes back byte for byte');
    const head = await fetch(at(bigUrl!, b), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(big.length));

    const [pngUrl] = await urls(b, idB);
    const fromA = await fetch(at(pngUrl!, a));
    assert.equal(fromA.status, 200);
    assert.deepEqual(new Uint8Array(await fromA.arrayBuffer()), new Uint8Array([137, 80, 78, 71, 1, 2]));

    // Same signed URLs as with a folder: a tampered signature is refused by either process.
    const tampered = at(smallUrl!, b).replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    assert.equal((await fetch(tampered)).status, 403);

    // An object gone from the bucket is a 404 (GET and HEAD), not a 500.
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `attachments/${new URL(pngUrl!).pathname.split('/').pop()}` }));
    assert.equal((await fetch(at(pngUrl!, a))).status, 404);
    assert.equal((await fetch(at(pngUrl!, b), { method: 'HEAD' })).status, 404);
  });

  test('the size limit and failed posts leave nothing in the bucket or the staging folder', async () => {
    const before = await keys();
    const tooBig = await post(a, [{ name: 'huge.bin', type: 'application/octet-stream', data: new Uint8Array(MAX + 1) }]);
    assert.equal(tooBig.status, 413);
    const unknown = await post(b, [{ name: 'x.txt', type: 'text/plain', data: new TextEncoder().encode('x') }], 'no-such-conversation');
    assert.equal(unknown.status, 404);
    assert.deepEqual(await keys(), before);
    assert.deepEqual(readdirSync(a.files.stagingDir), []);
    assert.deepEqual(readdirSync(b.files.stagingDir), []);
  });
});

describe('FILES_STORE configuration', () => {
  test('a folder, the deprecated FILES_DIR alias, or s3://bucket/prefix with the S3_* settings', () => {
    assert.deepEqual(loadConfig({}).files, { kind: 'local', dir: 'data/files' });
    assert.deepEqual(loadConfig({ FILES_DIR: '/srv/files' }).files, { kind: 'local', dir: '/srv/files' });
    assert.deepEqual(loadConfig({ FILES_DIR: '/old', FILES_STORE: '/new' }).files, { kind: 'local', dir: '/new' });
    assert.deepEqual(
      loadConfig({ FILES_STORE: 's3://my-bucket/some/prefix/', S3_ENDPOINT: 'http://minio:9000/', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', S3_FORCE_PATH_STYLE: 'true' }).files,
      {
        kind: 's3',
        s3: { bucket: 'my-bucket', prefix: 'some/prefix/', endpoint: 'http://minio:9000', region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' }, forcePathStyle: true },
      },
    );
    const aws = loadConfig({ FILES_STORE: 's3://my-bucket', S3_REGION: 'eu-central-1' }).files;
    assert.deepEqual(aws, { kind: 's3', s3: { bucket: 'my-bucket', prefix: '', endpoint: undefined, region: 'eu-central-1', credentials: undefined, forcePathStyle: false } });
  });

  test('a bad bucket, half a key pair or a non-boolean path style stops the start naming the variable', () => {
    assert.throws(() => loadConfig({ FILES_STORE: 's3://' }), /FILES_STORE/);
    assert.throws(() => loadConfig({ FILES_STORE: 's3://Bad_Bucket/x' }), /FILES_STORE/);
    assert.throws(() => loadConfig({ FILES_STORE: 's3://ok-bucket', S3_ACCESS_KEY_ID: 'k' }), /S3_SECRET_ACCESS_KEY/);
    assert.throws(() => loadConfig({ FILES_STORE: 's3://ok-bucket', S3_FORCE_PATH_STYLE: 'yes' }), /S3_FORCE_PATH_STYLE/);
    assert.throws(() => loadConfig({ S3_ENDPOINT: 'ftp://x' }), /S3_ENDPOINT/);
  });
});
