import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertMatchesSpec } from '../../fakes/pipedrive/contract.ts';
import { startTestBridge, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';

interface WireMessage {
  id: string;
  message: string;
}
interface WireConversation {
  id: string;
  messages: WireMessage[];
  next_messages_cursor?: string;
}

/** A small deterministic PRNG so a failing walk can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('pagination', () => {
  let b: TestBridge;
  let channel: Channel;
  const conversations: Conversation[] = [];
  /** Every message stored before the walk, per conversation, oldest first. */
  const expected = new Map<string, string[]>();

  before(async () => {
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
    channel = await seedChannel(b);
    const rnd = prng(42);
    for (let i = 0; i < 23; i++) {
      const c = await seedConversation(b, channel, `conv-${String(i).padStart(2, '0')}`);
      conversations.push(c);
      expected.set(c.id, []);
    }
    // Interleave messages so activity order differs from creation order; leave some empty.
    for (let n = 0; n < 120; n++) {
      const c = conversations[Math.floor(rnd() * 20)]!;
      const m = await seedInbound(b, channel, c, `${c.id}#${n}`);
      expected.get(c.id)!.push(m.id);
    }
  });
  after(() => b.close());

  async function page(path: string) {
    const res = await b.call(path);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    await assertMatchesSpec('GET', path, 200, body);
    return body;
  }

  async function olderMessages(c: WireConversation, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor = c.next_messages_cursor;
    while (cursor) {
      const body = await page(`/api/channels/${channel.providerChannelId}/conversations/${c.id}?messages_limit=${limit}&after=${encodeURIComponent(cursor)}`);
      ids.unshift(...body.data.messages.map((m: WireMessage) => m.id));
      cursor = body.data.next_messages_cursor;
      assert.equal(body.additional_data.after, cursor);
    }
    return ids;
  }

  test('walking every page returns each conversation and message exactly once, in order, while new messages arrive', async () => {
    const rnd = prng(7);
    const seenConversations: string[] = [];
    const messagesByConversation = new Map<string, string[]>();
    let after: string | undefined;
    let pages = 0;
    do {
      const body = await page(`/api/channels/${channel.providerChannelId}/conversations?conversations_limit=4&messages_limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      pages++;
      for (const c of body.data as WireConversation[]) {
        seenConversations.push(c.id);
        const older = await olderMessages(c, 2);
        messagesByConversation.set(c.id, [...older, ...c.messages.map((m) => m.id)]);
      }
      after = body.additional_data.after;
      // New traffic between page requests, including to conversations not yet returned.
      for (let k = 0; k < 3; k++) {
        const c = conversations[Math.floor(rnd() * conversations.length)]!;
        await seedInbound(b, channel, c, `late-${pages}-${k}`);
      }
    } while (after);

    assert.equal(pages, 6);
    assert.deepEqual([...seenConversations].sort(), conversations.map((c) => c.id).sort(), 'every conversation exactly once');
    for (const [id, ids] of expected) assert.deepEqual(messagesByConversation.get(id), ids, `messages of ${id} exactly once, in order`);
  });

  test('conversations come newest activity first', async () => {
    const fresh = conversations[21]!;
    await seedInbound(b, channel, fresh, 'bump');
    const body = await page(`/api/channels/${channel.providerChannelId}/conversations?conversations_limit=2`);
    assert.equal(body.data[0].id, fresh.id);
    assert.equal(body.data[0].messages.at(-1).message, 'bump');
  });

  test('limits: default 30, clamped to 100, not a positive integer → 400', async () => {
    const def = await page(`/api/channels/${channel.providerChannelId}/conversations`);
    assert.equal(def.data.length, 23);
    const clamped = await page(`/api/channels/${channel.providerChannelId}/conversations?conversations_limit=100000&messages_limit=999`);
    assert.equal(clamped.data.length, 23);
    for (const bad of ['abc', '-1', '0', '1.5', '1e3', '', ' ']) {
      const q = bad === '' ? 'conversations_limit=2&conversations_limit=3' : `messages_limit=${encodeURIComponent(bad)}`;
      const res = await b.call(`/api/channels/${channel.providerChannelId}/conversations?${q}`);
      if (bad === ' ') {
        assert.equal(res.status, 200, 'a blank limit means the default');
        continue;
      }
      const body = await res.json();
      assert.equal(res.status, 400, `${q}: ${JSON.stringify(body)}`);
      assert.equal(body.data.code, 'INVALID_BODY');
    }
  });

  test('forged, garbage and foreign cursors → 400', async () => {
    const first = await page(`/api/channels/${channel.providerChannelId}/conversations?conversations_limit=2`);
    const good: string = first.additional_data.after;
    const [payload, sig] = good.split('.');
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), q: 0 })).toString('base64url');
    const conv = conversations[0]!.id;
    const other = await seedChannel(b);
    const cases = [
      `/api/channels/${channel.providerChannelId}/conversations?after=garbage`,
      `/api/channels/${channel.providerChannelId}/conversations?after=${edited}.${sig}`,
      `/api/channels/${channel.providerChannelId}/conversations?after=${'A'.repeat(5000)}`,
      `/api/channels/${other.providerChannelId}/conversations?after=${encodeURIComponent(good)}`,
      `/api/channels/${channel.providerChannelId}/conversations/${conv}?after=${encodeURIComponent(good)}`,
    ];
    for (const path of cases) {
      const res = await b.call(path);
      const body = await res.json();
      assert.equal(res.status, 400, `${path.slice(0, 120)}: ${JSON.stringify(body)}`);
      assert.equal(body.data.code, 'INVALID_BODY');
    }
  });
});
