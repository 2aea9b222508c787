import { z } from 'zod';

/** C0 and C1 control characters, NUL included (Unicode general category Cc). */
const CONTROL = /\p{Cc}/u;

/**
 * An id a platform signs and sends us (message, conversation, session, event ids). Such ids
 * are keys in our tables: a NUL byte is refused by PostgreSQL text columns (a 5xx, which a
 * platform retries for hours) and other control characters have no business in an id, so
 * the schema refuses them up front and the platform gets its "bad request" answer.
 */
export function platformId(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((v) => !CONTROL.test(v), 'must not contain control characters');
}

/** The same rule for an optional id-like value that may be empty. */
export function platformText(max: number) {
  return z
    .string()
    .max(max)
    .refine((v) => !CONTROL.test(v), 'must not contain control characters');
}
