import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeConversationsCursor, decodeMessagesCursor, encodeCursor, type ConversationsCursor } from '../../app/domain/cursor.ts';
import { createSecrets } from '../../app/ground/security/crypto.ts';

const secrets = createSecrets('a'.repeat(64));
const conv: ConversationsCursor = { k: 'c', ch: 'ch-1', s: 40, cp: 7, q: 12, p: 3 };

const refused = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof Error && (e as Error & { code?: string }).code === 'INVALID_BODY' && /cursor/.test(e.message));

test('cursor: what is encoded decodes to the same value, for both kinds', () => {
  assert.deepEqual(decodeConversationsCursor(secrets, encodeCursor(secrets, conv)), conv);
  const msgs = { k: 'm' as const, cv: 'conv-9', b: 1234 };
  assert.deepEqual(decodeMessagesCursor(secrets, encodeCursor(secrets, msgs)), msgs);
  // Opaque to the caller, and URL-safe: it travels as ?after=… unescaped.
  assert.match(encodeCursor(secrets, conv), /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
});

test('cursor: an edited body, a foreign key, a missing or extra part, or oversize input is refused as INVALID_BODY', () => {
  const good = encodeCursor(secrets, conv);
  const [body, sig] = good.split('.') as [string, string];
  const edited = Buffer.from(JSON.stringify({ ...conv, q: 0 })).toString('base64url');
  refused(() => decodeConversationsCursor(secrets, `${edited}.${sig}`));
  refused(() => decodeConversationsCursor(createSecrets('b'.repeat(64)), good));
  refused(() => decodeConversationsCursor(secrets, body));
  refused(() => decodeConversationsCursor(secrets, `${body}.`));
  refused(() => decodeConversationsCursor(secrets, `${good}.x`));
  refused(() => decodeConversationsCursor(secrets, ''));
  refused(() => decodeConversationsCursor(secrets, 'x'.repeat(513)));
});

test('cursor: a signed value of the wrong kind or shape is refused, not trusted because it is signed', () => {
  refused(() => decodeMessagesCursor(secrets, encodeCursor(secrets, conv)));
  const signed = (value: unknown) => {
    const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
    return `${body}.${secrets.sign('cursor', body)}`;
  };
  refused(() => decodeConversationsCursor(secrets, signed({ ...conv, q: -1 })));
  refused(() => decodeConversationsCursor(secrets, signed({ ...conv, p: 1.5 })));
  refused(() => decodeMessagesCursor(secrets, signed({ k: 'm', cv: 'c' })));
  refused(() => decodeMessagesCursor(secrets, signed('not json')));
  // The signature is bound to its purpose: a file-link signature over the same bytes is no cursor.
  const body = Buffer.from(JSON.stringify(conv)).toString('base64url');
  refused(() => decodeConversationsCursor(secrets, `${body}.${secrets.sign('file', body)}`));
});
