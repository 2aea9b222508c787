import { z } from 'zod';
import { AppError } from '../ground/failures.ts';
import type { Secrets } from '../ground/security/crypto.ts';

/**
 * Opaque pagination cursors: base64url JSON plus an HMAC, so a forged or edited cursor is
 * rejected (400) instead of becoming an arbitrary query.
 */
const ConversationsCursor = z.object({
  k: z.literal('c'),
  ch: z.string(),
  /** snapshot: newest message seq and conversation pk when the walk started */
  s: z.number().int().nonnegative(),
  cp: z.number().int().nonnegative(),
  /** last key returned: (activity seq, pk) */
  q: z.number().int().nonnegative(),
  p: z.number().int().nonnegative(),
});

const MessagesCursor = z.object({
  k: z.literal('m'),
  cv: z.string(),
  /** return messages with seq strictly below this */
  b: z.number().int().nonnegative(),
});

export type ConversationsCursor = z.infer<typeof ConversationsCursor>;
export type MessagesCursor = z.infer<typeof MessagesCursor>;

export function encodeCursor(secrets: Secrets, value: ConversationsCursor | MessagesCursor): string {
  const body = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${body}.${secrets.sign('cursor', body)}`;
}

function decode<T>(secrets: Secrets, raw: string, schema: z.ZodType<T>): T {
  const invalid = new AppError('INVALID_BODY', 'Invalid pagination cursor (`after`): pass back a cursor exactly as this service returned it');
  if (raw.length > 512) throw invalid;
  const [body, sig, extra] = raw.split('.');
  if (!body || !sig || extra !== undefined || !secrets.verify('cursor', body, sig)) throw invalid;
  try {
    return schema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw invalid;
  }
}

export const decodeConversationsCursor = (secrets: Secrets, raw: string) => decode(secrets, raw, ConversationsCursor);
export const decodeMessagesCursor = (secrets: Secrets, raw: string) => decode(secrets, raw, MessagesCursor);
