import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { fieldErrors, invalidFields } from '../../app/domain/field-errors.ts';

const errorsOf = (schema: z.ZodType, input: unknown, prefix = '') => {
  const r = schema.safeParse(input);
  assert.equal(r.success, false);
  return fieldErrors(r.error!, prefix, input);
};

const config = z.object({
  api_url: z.url(),
  name: z.string().min(1).max(5),
  keys: z.array(z.string()).min(1).max(2),
  port: z.number(),
  pem: z.string().refine((v) => v.startsWith('-----'), 'must be a PEM public key'),
});

test('field errors: one plain message per field, every field at once, dotted under a prefix', () => {
  const input = { api_url: 'not a url', name: 'much too long', keys: ['a', 'b', 'c'], port: 'x', pem: 'abc' };
  assert.deepEqual(errorsOf(config, input, 'config.'), [
    { field: 'config.api_url', message: 'Enter a full address that starts with https://' },
    { field: 'config.name', message: 'Shorten this to at most 5 characters.' },
    { field: 'config.keys', message: 'Enter at most 2 values.' },
    { field: 'config.port', message: 'Enter a number.' },
    { field: 'config.pem', message: 'Must be a PEM public key.' },
  ]);
});

test('field errors: missing, empty and empty-list values read "This is required."; a schema\'s own message still wins', () => {
  const errors = errorsOf(config, { name: '', keys: [], pem: '' });
  const byField = Object.fromEntries(errors.map((e) => [e.field, e.message]));
  assert.deepEqual(byField, {
    api_url: 'This is required.',
    name: 'This is required.',
    keys: 'This is required.',
    port: 'This is required.',
    pem: 'Must be a PEM public key.',
  });
  // A blank value is "empty" for a check that fails on it: the person is told to fill it in.
  assert.deepEqual(errorsOf(z.object({ n: z.string().regex(/^\d+$/) }), { n: '  ' }), [{ field: 'n', message: 'This is required.' }]);
});

test('field errors: a list item is reported once, at its index; a root failure is "body"', () => {
  assert.deepEqual(errorsOf(z.object({ keys: z.array(z.string()) }), { keys: ['a', 7, 8] }), [
    { field: 'keys.1', message: 'Enter text here.' },
    { field: 'keys.2', message: 'Enter text here.' },
  ]);
  assert.deepEqual(errorsOf(z.object({ a: z.string() }), 'nope'), [{ field: 'body', message: 'Enter text here.' }]);
  assert.deepEqual(errorsOf(z.string(), 5, 'config.'), [{ field: 'config', message: 'Enter text here.' }]);
});

test('invalidFields: one INVALID_BODY error whose message counts and lists the fields, with the fields attached', () => {
  const one = invalidFields([{ field: 'config.secret', message: 'This is required.' }]);
  assert.equal(one.code, 'INVALID_BODY');
  assert.equal(one.message, 'One field needs attention. config.secret: This is required.');
  const two = invalidFields([
    { field: 'name', message: 'This is required.' },
    { field: 'config.api_url', message: 'Enter a number.' },
  ]);
  assert.match(two.message, /^2 fields need attention\. name: This is required\. config\.api_url: Enter a number\.$/);
  assert.equal((two.extra as { fields: unknown[] }).fields.length, 2);
});
