import type { Message } from '../ground/records.ts';
import { bumpActivities } from './conversations.ts';
import { isPg, runRows, type Tx } from './db.ts';
import { recordEventKeys, type EventKey } from './events.ts';
import { insertJobs, jobRow, tenantOf, type NewJob } from './jobs.ts';
import { insertInboundMessages, messageRow, platformIdKey, storedMessage, type NewMessageWithAttachments } from './messages.ts';

/**
 * What a batch stored for one event: its message, and, when the write read it too (on
 * PostgreSQL), whether its conversation is about a Pipedrive record (has a record link).
 */
export interface StoredInbound {
  message: Message;
  aboutRecord?: boolean;
}

/** One inbound event of a batch: its key, the message it would store, and that message's delivery job. */
export interface InboundRow extends NewMessageWithAttachments {
  key: EventKey;
  job: NewJob;
}

/**
 * Stores a batch of inbound events inside the caller's transaction: their event keys, their
 * messages with attachments, their conversations' activity and their delivery jobs. Each event
 * gets what it would get written alone after the ones before it: its message as stored, or
 * null when it is a redelivery (its key recorded before or earlier in the list, or its platform
 * id stored before from the platform side or by an earlier event of the list). Messages and
 * jobs go in in list order, so seqs and job ids follow each conversation's order.
 *
 * The dialect spot of the ingest: sqlite runs the statements one after the other (each a call
 * into the library, no round trip); PostgreSQL runs one statement of data-modifying CTEs
 * (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING), because
 * there every statement is a round trip and a batch was seven of them with BEGIN and COMMIT:
 * at 300 webhooks a second a webhook waited for the batch before it and then its own, ~10 ms.
 */
export async function storeInboundBatch(db: Tx, rows: readonly InboundRow[], now: number): Promise<Array<StoredInbound | null>> {
  if (!rows.length) return [];
  if (isPg(db)) return storePg(db, rows, now);
  return (await storeSqlite(db, rows, now)).map((message) => (message ? { message } : null));
}

async function storeSqlite(db: Tx, rows: readonly InboundRow[], now: number): Promise<Array<Message | null>> {
  const fresh = await recordEventKeys(
    db,
    rows.map((r) => r.key),
    now,
  );
  // The event key serialises concurrent deliveries; the stored platform id outlives its
  // retention, so a replay after the keys were purged is still a duplicate: the insert leaves
  // out what the channel stored before, and here the batch keeps the first of a platform id it
  // holds twice.
  const inBatch = new Set<string>();
  const candidates: number[] = [];
  rows.forEach(({ message: m }, i) => {
    if (!fresh[i]) return;
    if (m.platformMessageId != null) {
      const key = platformIdKey(m.channelId, m.platformMessageId);
      if (inBatch.has(key)) return;
      inBatch.add(key);
    }
    candidates.push(i);
  });
  const results: Array<Message | null> = rows.map(() => null);
  if (!candidates.length) return results;
  const inserted = await insertInboundMessages(
    db,
    candidates.map((i) => rows[i]!),
    now,
  );
  const stored: number[] = [];
  candidates.forEach((i, c) => {
    if (!inserted[c]) return;
    results[i] = inserted[c];
    stored.push(i);
  });
  if (!stored.length) return results;
  await bumpActivities(
    db,
    stored.map((i) => ({ pk: results[i]!.conversationPk, seq: results[i]!.seq })),
    now,
  );
  await insertJobs(
    db,
    stored.map((i) => rows[i]!.job),
    now,
  );
  return results;
}

/**
 * The same as one statement. Every CTE sees the snapshot from before the statement, so the
 * redeliveries within the batch are found among the batch's own rows (`fresh`, `candidates`),
 * and the platform ids stored before by the NOT EXISTS on messages, as on sqlite. Rows are
 * inserted `order by n`: PostgreSQL numbers an INSERT … SELECT's rows in the order the SELECT
 * yields them. It also answers whether each stored message's conversation is about a record, which
 * the transcript hook would otherwise read in a round trip of its own (a batch: BEGIN, this
 * statement, COMMIT).
 */
const STORE_PG = `
  with input as (
    select * from json_to_recordset(cast(? as json)) as r(n bigint, source text, event_key text, id text, conversation_pk bigint, channel_id text,
      platform_message_id text, origin text, sender_id text, text text, status text, created_at bigint, attachment_count bigint,
      job_kind text, job_payload text, job_ordering_key text, job_max_attempts bigint, job_run_at bigint, job_channel_id text)
  ),
  keys as (
    insert into inbound_events (source, event_key, received_at)
    select distinct on (i.source, i.event_key) i.source, i.event_key, cast(? as bigint) from input i order by i.source, i.event_key, i.n
    on conflict (source, event_key) do nothing returning source, event_key
  ),
  fresh as (
    select i.* from input i join keys k on k.source = i.source and k.event_key = i.event_key
    where not exists (select 1 from input e where e.source = i.source and e.event_key = i.event_key and e.n < i.n)
  ),
  candidates as (
    select f.* from fresh f
    where f.platform_message_id is null
      or not exists (select 1 from fresh g where g.channel_id = f.channel_id and g.platform_message_id = f.platform_message_id and g.n < f.n)
  ),
  msgs as (
    insert into messages (id, conversation_pk, channel_id, platform_message_id, origin, sender_id, text, status, created_at, has_attachments, updated_at)
    select c.id, c.conversation_pk, c.channel_id, c.platform_message_id, c.origin, c.sender_id, c.text, c.status, c.created_at, c.attachment_count > 0, cast(? as bigint)
    from candidates c
    where not exists (select 1 from messages x where x.channel_id = c.channel_id and x.platform_message_id = c.platform_message_id and x.origin <> 'pipedrive')
    order by c.n returning seq, id, conversation_pk
  ),
  atts as (
    insert into attachments (id, message_seq, name, mime_type, size, storage_key, remote_url, created_at)
    select a.id, m.seq, a.name, a.mime_type, a.size, a.storage_key, a.remote_url, cast(? as bigint)
    from json_to_recordset(cast(? as json)) as a(n bigint, message_id text, id text, name text, mime_type text, size bigint, storage_key text, remote_url text)
    join msgs m on m.id = a.message_id
    order by a.n
  ),
  activity as (
    update conversations set last_seq = b.last_seq, updated_at = cast(? as bigint)
    from (select conversation_pk as pk, max(seq) as last_seq from msgs group by conversation_pk) b
    where conversations.pk = b.pk and conversations.last_seq < b.last_seq
  ),
  queued as (
    insert into jobs (kind, payload, ordering_key, status, attempts, max_attempts, run_at, channel_id, tenant, created_at, updated_at)
    select c.job_kind, c.job_payload, c.job_ordering_key, 'pending', 0, c.job_max_attempts, c.job_run_at, c.job_channel_id,
      coalesce(${tenantOf('ch', 'ins')}, ''), cast(? as bigint), cast(? as bigint)
    from candidates c join msgs m on m.id = c.id
    left join channels ch on ch.id = c.job_channel_id left join installations ins on ins.id = ch.installation_id
    order by c.n
  )
  select m.seq, m.id, exists (select 1 from workspace_records w where w.conversation_pk = m.conversation_pk) as about_record from msgs m`;

async function storePg(db: Tx, rows: readonly InboundRow[], now: number): Promise<Array<StoredInbound | null>> {
  for (const r of rows) if (r.job.idempotencyKey) throw new Error('an inbound delivery job carries no idempotency key');
  const input = rows.map(({ key, message: m, attachments, job }, n) => {
    const j = jobRow(job, now);
    return {
      n,
      source: key.source,
      event_key: key.key,
      ...messageRow(m, attachments.length),
      job_kind: j.kind,
      job_payload: j.payload,
      job_ordering_key: j.ordering_key,
      job_max_attempts: j.max_attempts,
      job_run_at: j.run_at,
      job_channel_id: j.channel_id,
    };
  });
  const attachments = rows.flatMap(({ message: m, attachments }) =>
    attachments.map((a) => ({ message_id: m.id, id: a.id, name: a.name, mime_type: a.mimeType, size: a.size, storage_key: a.storageKey ?? null, remote_url: a.remoteUrl ?? null })),
  );
  const returned = await runRows<{ seq: number; id: string; about_record: boolean }>(db, STORE_PG, [
    JSON.stringify(input),
    now,
    now,
    now,
    JSON.stringify(attachments.map((a, n) => ({ n, ...a }))),
    now,
    now,
    now,
  ]);
  const byId = new Map(returned.map((r) => [r.id, r]));
  return rows.map(({ message: m, attachments }) => {
    const r = byId.get(m.id);
    return r ? { message: storedMessage(m, attachments, Number(r.seq), now), aboutRecord: r.about_record } : null;
  });
}
