import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { fieldsOf, visibleSettings } from '../../app/platforms/fields.ts';

const schema = z.object({
  api_url: z.url().meta({ title: 'API address', description: 'Where the API answers', placeholder: 'https://api.example.com' }),
  client_secret: z.string(),
  callback_token_url: z.url(),
  public_keys: z.array(z.string()),
  timeoutSeconds: z.number().int().optional(),
  verbose: z.boolean().optional(),
  org_id: z.string().meta({ secret: true }),
  api_key: z.string().meta({ secret: false }),
  note: z.string().or(z.number()).optional(),
});

test('fieldsOf: a config schema becomes form fields with types, labels, hints and what is required', () => {
  const fields = fieldsOf(schema);
  const by = Object.fromEntries(fields.map((f) => [f.name, f]));
  assert.deepEqual(by.api_url, { name: 'api_url', type: 'string', required: true, label: 'API address', hint: 'Where the API answers', placeholder: 'https://api.example.com' });
  assert.equal(by.client_secret!.type, 'secret', 'a secret-sounding name is a secret');
  assert.equal(by.client_secret!.label, 'Client secret');
  assert.equal(by.callback_token_url!.type, 'string', 'a URL is never a secret, whatever its name');
  assert.equal(by.public_keys!.type, 'list');
  assert.deepEqual([by.timeoutSeconds!.type, by.timeoutSeconds!.required, by.timeoutSeconds!.label], ['number', false, 'Timeout seconds']);
  assert.equal(by.verbose!.type, 'boolean');
  assert.equal(by.org_id!.type, 'secret', 'meta({secret: true}) decides');
  assert.equal(by.api_key!.type, 'string', 'meta({secret: false}) decides');
  assert.equal(by.note!.type, 'string', 'a mixed union is text');
  assert.equal(fieldsOf(schema), fields, 'read once per schema');
});

test('visibleSettings: stored values a form may show again, never the secrets', () => {
  const stored = { api_url: 'https://a', client_secret: 's3cr3t', org_id: 'o', api_key: 'k', public_keys: ['p'], unknown: 'x' };
  assert.deepEqual(visibleSettings(schema, stored), { api_url: 'https://a', api_key: 'k', public_keys: ['p'] });
});
