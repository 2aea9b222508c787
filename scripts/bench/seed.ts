/**
 * Fills a channel with `messages` messages quickly: multi-row INSERTs through the app's
 * knex, straight into the tables, one transaction per batch. Rows look like the app's own
 * (ids, participants, ~5 % with an attachment, conversations' last_seq kept right).
 *
 * Messages are dealt in rounds: each round gives every conversation one message, in a
 * fresh random order. So every conversation holds at least 30 messages (a 30×30 page is
 * always full, whatever the store size) and a conversation's messages are spread over the
 * whole table, as in a real store where conversations interleave.
 */
import { randomUUID } from 'node:crypto';
import type { Channel } from '../../app/ground/records.ts';
import type { Knex } from 'knex';
import { isPg, type Db, type Tx } from '../../app/store/db.ts';
import { maxMessageSeq } from '../../app/store/messages.ts';

// 11 columns × 2000 rows stays under sqlite's 32766 bound variables per statement (and pg's 65535).
const ROWS_PER_INSERT = 2000;
const ROWS_PER_TRANSACTION = 20_000;
const ATTACHMENT_SHARE = 0.05;

const LOREM =
  'Thanks for reaching out! Could you send the signed quote and the delivery address? We can ship on Monday, ' +
  'or earlier if the warehouse confirms stock. Let me know which option works best for your team and budget.';

/** A small deterministic PRNG, so two runs seed the same store. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * One `insert … values (…), (…)` statement. knex's own multi-row insert compiles to
 * `insert … select … union all select …` on sqlite, which stops at 500 rows (SQLITE_MAX_COMPOUND_SELECT).
 */
export async function insertRows(tx: Tx, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]!);
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const bindings: unknown[] = [];
  for (const r of rows) for (const c of columns) bindings.push(r[c] ?? null);
  await tx.raw(`insert into ?? (${columns.map(() => '??').join(', ')}) values ${rows.map(() => tuple).join(', ')}`, [table, ...columns, ...bindings] as Knex.RawBinding[]);
}

export async function insertBatched(db: Db, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  for (let t = 0; t < rows.length; t += ROWS_PER_TRANSACTION) {
    await db.transaction(async (tx) => {
      const end = Math.min(t + ROWS_PER_TRANSACTION, rows.length);
      for (let i = t; i < end; i += ROWS_PER_INSERT) await insertRows(tx, table, rows.slice(i, Math.min(i + ROWS_PER_INSERT, end)));
    });
  }
}

export interface SeedResult {
  conversations: number;
  messages: number;
  attachments: number;
  conversationId: string;
  messageId: string;
  seedMs: number;
}

export async function seedStore(db: Db, channel: Channel, opts: { messages: number; maxConversations: number }): Promise<SeedResult> {
  if (isPg(db)) return fill(db, channel, opts);
  // Random ids into unique indexes thrash sqlite's 2 MB default page cache once the indexes
  // outgrow it (1 M rows: a minute instead of seconds). The pool's one connection gets a
  // large cache while seeding and its old setting back before the bench reads.
  const before = (await db.raw<Array<{ cache_size: number }>>('pragma cache_size'))[0]?.cache_size ?? -2000;
  await db.raw('pragma cache_size = -262144');
  try {
    return await fill(db, channel, opts);
  } finally {
    await db.raw(`pragma cache_size = ${Number(before)}`);
  }
}

async function fill(db: Db, channel: Channel, opts: { messages: number; maxConversations: number }): Promise<SeedResult> {
  const started = Date.now();
  const rand = prng(42);
  const count = Math.max(1, Math.min(opts.maxConversations, Math.floor(opts.messages / 30)));
  const t0 = Date.now() - opts.messages * 1000;

  await insertBatched(
    db,
    'conversations',
    Array.from({ length: count }, (_, i) => ({
      id: `bench-conv-${i}`,
      channel_id: channel.id,
      status: 'open',
      seen: false,
      link: `https://example.pipedrive.com/deal/${i}`,
      last_seq: 0,
      created_at: t0,
      updated_at: t0,
    })),
  );
  const conversations: Array<{ pk: number; id: string }> = (await db('conversations').select('pk', 'id').where('channel_id', channel.id).orderBy('pk')).map((r: { pk: number; id: string }) => ({
    pk: Number(r.pk),
    id: r.id,
  }));
  await insertBatched(
    db,
    'participants',
    conversations.flatMap((c, i) => [
      { conversation_pk: c.pk, id: `pd-user-${i}`, role: 'source_user', name: `Customer ${i}`, avatar_url: null, email: `customer${i}@example.com`, created_at: t0, updated_at: t0 },
      { conversation_pk: c.pk, id: `agent-${i % 20}`, role: 'end_user', name: `Agent ${i % 20}`, avatar_url: 'https://example.com/agent.png', email: null, created_at: t0, updated_at: t0 },
    ]),
  );

  const firstSeq = (await maxMessageSeq(db)) + 1;
  let attachments = 0;
  let messageId = '';
  let order: number[] = [];
  for (let done = 0; done < opts.messages;) {
    const n = Math.min(ROWS_PER_TRANSACTION, opts.messages - done);
    const messages: Array<Record<string, unknown>> = [];
    const files: Array<Record<string, unknown>> = [];
    for (let k = done; k < done + n; k++) {
      if (k % count === 0)
        order = shuffle(
          Array.from({ length: count }, (_, i) => i),
          rand,
        );
      const ci = order[k % count]!;
      const conv = conversations[ci]!;
      const seq = firstSeq + k;
      const fromPipedrive = rand() < 0.5;
      const at = t0 + k * 1000;
      const id = `m_${randomUUID().replaceAll('-', '')}`;
      messageId ||= id;
      // Drawn in this order (sender, text, file) so a seed gives the same store as before.
      const text = `#${k} ${LOREM.slice(0, 20 + Math.floor(rand() * 180))}`;
      const withFile = rand() < ATTACHMENT_SHARE;
      messages.push({
        seq,
        id,
        conversation_pk: conv.pk,
        channel_id: channel.id,
        platform_message_id: `p-${seq}`,
        origin: fromPipedrive ? 'pipedrive' : 'platform',
        sender_id: fromPipedrive ? `pd-user-${ci}` : `agent-${ci % 20}`,
        text,
        status: fromPipedrive ? 'read' : 'sent',
        created_at: at,
        updated_at: at,
        has_attachments: withFile,
      });
      if (withFile) {
        attachments++;
        files.push({
          id: `a_${randomUUID().replaceAll('-', '')}`,
          message_seq: seq,
          name: `photo-${k}.jpg`,
          mime_type: 'image/jpeg',
          size: 48_213,
          storage_key: null,
          remote_url: `https://files.example.com/${k}.jpg`,
          created_at: at,
        });
      }
    }
    await db.transaction(async (tx) => {
      for (let i = 0; i < messages.length; i += ROWS_PER_INSERT) await insertRows(tx, 'messages', messages.slice(i, i + ROWS_PER_INSERT));
      for (let i = 0; i < files.length; i += ROWS_PER_INSERT) await insertRows(tx, 'attachments', files.slice(i, i + ROWS_PER_INSERT));
    });
    done += n;
  }

  await db('conversations')
    .where('channel_id', channel.id)
    .update({ last_seq: db.raw('(select coalesce(max(m.seq), 0) from messages m where m.conversation_pk = conversations.pk)') });
  if (isPg(db)) {
    // Explicit seqs bypass the serial's sequence; move it past them so later inserts do not collide.
    await db.raw(`select setval(pg_get_serial_sequence('messages', 'seq'), (select max(seq) from messages))`);
    // What autovacuum would have done by the time a store holds this much.
    await db.raw('analyze');
  }
  return { conversations: count, messages: opts.messages, attachments, conversationId: conversations[0]!.id, messageId, seedMs: Date.now() - started };
}
