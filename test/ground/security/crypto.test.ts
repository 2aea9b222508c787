import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecrets, safeEqual } from '../../../app/ground/security/crypto.ts';

const secrets = createSecrets('s'.repeat(64));

test('secrets: encryption round-trips, is randomised, and a tampered or foreign value does not decrypt', () => {
  const plain = 'refresh-token ✓ with unicode';
  const a = secrets.encrypt(plain);
  const b = secrets.encrypt(plain);
  assert.notEqual(a, b, 'a fresh IV each time');
  assert.match(a, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/);
  assert.ok(!a.includes('refresh'));
  assert.equal(secrets.decrypt(a), plain);
  assert.equal(secrets.decrypt(secrets.encrypt('')), '');

  const [v, iv, tag, ct] = a.split('.') as [string, string, string, string];
  const flipped = Buffer.from(ct, 'base64url');
  flipped[0] = flipped[0]! ^ 1;
  assert.throws(() => secrets.decrypt([v, iv, tag, flipped.toString('base64url')].join('.')), 'GCM authenticates the ciphertext');
  assert.throws(() => createSecrets('t'.repeat(64)).decrypt(a), 'another APP_SECRET cannot read it');
  assert.throws(() => secrets.decrypt(plain), /not an encrypted value/);
  assert.throws(() => secrets.decrypt(`v2.${iv}.${tag}.${ct}`), /not an encrypted value/);
});

test('secrets: signatures are per purpose and per APP_SECRET', () => {
  const sig = secrets.sign('cursor', 'data');
  assert.match(sig, /^[A-Za-z0-9_-]{43}$/, 'HMAC-SHA256, base64url');
  assert.equal(secrets.sign('cursor', 'data'), sig, 'deterministic');
  assert.equal(secrets.verify('cursor', 'data', sig), true);
  assert.equal(secrets.verify('cursor', 'datA', sig), false);
  assert.equal(secrets.verify('file', 'data', sig), false, 'a cursor key cannot sign a file link');
  assert.equal(secrets.verify('cursor', 'data', sig.slice(1)), false);
  assert.equal(secrets.verify('cursor', 'data', ''), false);
  assert.notEqual(createSecrets('t'.repeat(64)).sign('cursor', 'data'), sig);
  const purposes = (['cursor', 'file', 'cookie', 'state'] as const).map((p) => secrets.sign(p, 'x'));
  assert.equal(new Set(purposes).size, 4);
});

test('safeEqual: equal strings only, whatever the lengths', () => {
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'abcd'), false);
  assert.equal(safeEqual('', ''), true);
  assert.equal(safeEqual('é', 'e'), false);
});
