import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { airyIds, airyUuid } from '../../../app/platforms/airy/ids.ts';

// Known vectors (shared with the fake) are in fake-contract.test.ts; these pin the shape.

test('airyUuid: a lowercase v5-shaped UUID with the RFC variant, whatever the input', () => {
  for (let i = 0; i < 200; i++) {
    const id = airyUuid(randomBytes(8).toString('hex'), randomBytes(i % 20).toString('base64'));
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, id);
  }
  assert.match(airyUuid('ünïcødé', '✓'), /^[0-9a-f]{8}-/);
  assert.notEqual(airyUuid('é'), airyUuid('e'), 'hashed as UTF-8, not folded');
});

test('airyUuid: the namespace and the name are concatenated as plain strings (no separator, no namespace UUID)', () => {
  assert.equal(airyUuid('ab', 'c'), airyUuid('a', 'bc'));
  assert.equal(airyUuid('abc'), airyUuid('abc', ''));
  assert.equal(airyUuid('', 'abc'), airyUuid('abc'));
  assert.notEqual(airyUuid('src', 'x'), airyUuid('src', 'y'));
  assert.equal(airyUuid('src', 'x'), airyUuid('src', 'x'), 'deterministic: ids are predicted, never stored from an answer');
});

test('airyIds: channel, conversation and message ids are all derived from the source id and our own id', () => {
  const source = 'c6d1e3a0-0000-4000-8000-000000000001';
  assert.equal(airyIds.channel(source, 'ch-1'), airyUuid(source, 'ch-1'));
  assert.equal(airyIds.conversation(source, 'conv-1'), airyUuid(source, 'conv-1'));
  assert.equal(airyIds.message(source, 'm_1'), airyUuid(source, 'm_1'));
  // Two sources (two channels) never share an id for the same conversation of ours.
  assert.notEqual(airyIds.conversation(source, 'conv-1'), airyIds.conversation(`${source}x`, 'conv-1'));
});
