import type { z } from 'zod';
import { AppError } from '../ground/failures.ts';
import { RefusedSettingError } from '../ground/security/outbound-policy.ts';

/** One invalid input field, in words a person can act on. `field` is the dotted path (`config.api_url`). */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * Every issue of a failed parse (not just the first), one per field, in plain words. `input`
 * (what was parsed) tells a missing or empty value apart from a wrong one.
 */
export function fieldErrors(error: z.ZodError, prefix = '', input?: unknown): FieldError[] {
  const seen = new Map<string, string>();
  for (const issue of error.issues) {
    const field = issue.path.length ? prefix + issue.path.join('.') : prefix.replace(/\.$/, '') || 'body';
    // A list item keeps its index (`config.keys.0`); a form shows it at the list's field.
    if (seen.has(field)) continue;
    const empty = input !== undefined && isEmpty(valueAt(input, issue.path));
    seen.set(field, ownMessage(issue) ?? (empty ? 'This is required.' : plain(issue)));
  }
  return [...seen].map(([field, message]) => ({ field, message }));
}

/** The one error for a form with invalid fields: a summary, and each field's message in `fields`. */
export function invalidFields(fields: FieldError[]): AppError {
  const list = fields.map((f) => `${f.field}: ${f.message}`).join(' ');
  return new AppError('INVALID_BODY', `${fields.length === 1 ? 'One field needs' : `${fields.length} fields need`} attention. ${list}`, { fields });
}

/**
 * A platform setting refused as input while connecting (a URL the outbound policy does not
 * call): that field's error under `prefix`, like any other invalid field; otherwise undefined.
 */
export function refusedSetting(err: unknown, prefix = 'config.'): AppError | undefined {
  return err instanceof RefusedSettingError ? invalidFields([{ field: prefix + err.setting, message: err.message }]) : undefined;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v = input;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && !v.trim()) || (Array.isArray(v) && v.length === 0);

/** A schema's own message already speaks to a person; zod's defaults do not. */
function ownMessage(issue: z.core.$ZodIssue): string | null {
  if (/^(Too small|Too big|Invalid|Expected)/.test(issue.message)) return null;
  return /^is required$/i.test(issue.message) ? 'This is required.' : sentence(issue.message);
}

function plain(issue: z.core.$ZodIssue): string {
  const missing = issue.code === 'invalid_type' && /received undefined|received null/.test(issue.message);
  if (missing) return 'This is required.';
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'array' ? 'Enter one or more values, one per line.' : issue.expected === 'number' ? 'Enter a number.' : 'Enter text here.';
    case 'invalid_format':
      return issue.format === 'url' ? 'Enter a full address that starts with https://' : 'This is not in the expected format.';
    case 'too_small':
      return issue.origin === 'string' && Number(issue.minimum) <= 1 ? 'This is required.' : sentence(issue.message.startsWith('Too small') ? `Enter at least ${issue.minimum}` : issue.message);
    case 'too_big':
      return issue.origin === 'string' ? `Shorten this to at most ${issue.maximum} characters.` : issue.origin === 'array' ? `Enter at most ${issue.maximum} values.` : sentence(issue.message);
    case 'invalid_union':
      return 'Enter text here.';
    default:
      // Our own refinements already speak plainly ("must be a PEM public key …").
      return sentence(issue.message);
  }
}

function sentence(s: string): string {
  const t = s.trim();
  return (t.charAt(0).toUpperCase() + t.slice(1)).replace(/([^.!?])$/, '$1.');
}
