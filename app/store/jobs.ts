import { isPg, jsonRowSet, runRows, type Tx } from './db.ts';

export type JobStatus = 'pending' | 'running' | 'done' | 'dead';

export interface Job {
  id: number;
  kind: string;
  payload: unknown;
  orderingKey: string | null;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  lockedBy: string | null;
  lockedUntil: number | null;
  lastError: string | null;
  channelId: string | null;
  /** Who the job works for (TENANTS_OF_CHANNELS): claims are fair across tenants. */
  tenant: string;
  createdAt: number;
}

interface JobRow {
  id: number;
  kind: string;
  payload: string;
  ordering_key: string | null;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_at: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  channel_id: string | null;
  tenant: string;
  created_at: number;
}

const toJob = (r: JobRow): Job => ({
  id: Number(r.id),
  kind: r.kind,
  payload: JSON.parse(r.payload),
  orderingKey: r.ordering_key,
  status: r.status,
  attempts: Number(r.attempts),
  maxAttempts: Number(r.max_attempts),
  runAt: Number(r.run_at),
  lockedBy: r.locked_by,
  lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
  lastError: r.last_error,
  channelId: r.channel_id,
  tenant: r.tenant,
  createdAt: Number(r.created_at),
});

export interface NewJob {
  kind: string;
  payload: unknown;
  orderingKey?: string | null;
  idempotencyKey?: string | null;
  channelId?: string | null;
  runAt?: number;
  maxAttempts: number;
}

/** A new job's columns as a row of a JSON row set (jsonRowSet); due now unless it says when. */
export const jobRow = (job: NewJob, now: number) => ({
  kind: job.kind,
  payload: JSON.stringify(job.payload ?? null),
  ordering_key: job.orderingKey ?? null,
  idempotency_key: job.idempotencyKey ?? null,
  max_attempts: job.maxAttempts,
  run_at: job.runAt ?? now,
  channel_id: job.channelId ?? null,
});

/**
 * Inserts jobs in one statement, in list order (their ids follow it: per ordering key, jobs
 * run in id order). With an idempotency key a second insert is a no-op. Returns each job's
 * id, or null when deduplicated. Each job's tenant (TENANTS_OF_CHANNELS) is looked up once
 * per distinct channel of the list, not once per row.
 */
export async function insertJobs(db: Tx, jobs: readonly NewJob[], now: number): Promise<Array<number | null>> {
  if (!jobs.length) return [];
  const rows = jobs.map((job, n) => ({ n, ...jobRow(job, now) }));
  const channels = [...new Set(jobs.flatMap((j) => (j.channelId ? [j.channelId] : [])))].map((id) => ({ id }));
  const returned = await runRows<{ id: number; idempotency_key: string | null }>(db, isPg(db) ? INSERT_JOBS_SQL.pg : INSERT_JOBS_SQL.sqlite, [
    JSON.stringify(channels),
    now,
    now,
    JSON.stringify(rows),
  ]);
  // RETURNING has no order: keyed jobs are found by key, the others are the remaining ids in order.
  const byKey = new Map<string, number>();
  const unkeyed: number[] = [];
  for (const r of returned) {
    if (r.idempotency_key === null) unkeyed.push(Number(r.id));
    else byKey.set(r.idempotency_key, Number(r.id));
  }
  unkeyed.sort((a, b) => a - b);
  let next = 0;
  return rows.map((r) => {
    if (r.idempotency_key === null) return unkeyed[next++] ?? null;
    const id = byKey.get(r.idempotency_key);
    byKey.delete(r.idempotency_key);
    return id ?? null;
  });
}

/** Inserts a job; with an idempotency key a second insert is a no-op. Returns the id, or null when deduplicated. */
export async function insertJob(db: Tx, job: NewJob, now: number): Promise<number | null> {
  const [id] = await insertJobs(db, [job], now);
  return id ?? null;
}

/** The tenant (below) of channel row `c` with its installation row `i` LEFT JOINed: null when there is no channel. */
export const tenantOf = (c: string, i: string) => `coalesce('company:' || cast(${i}.pd_company_id as text), 'channel:' || ${c}.id)`;

/**
 * A job's tenant: the company owning its channel (several admins of one company are one
 * tenant), else the channel; '' for a job of no channel. Here for each distinct channel of
 * a JSON list of `{id}`.
 */
const TENANTS_OF_CHANNELS = (pg: boolean) =>
  `select c.id, ${tenantOf('c', 'i')} as tenant
   from channels c left join installations i on i.id = c.installation_id
   where c.id in (select x.id from ${jsonRowSet(pg, { id: 'text' })} x)`;

const INSERT_JOBS = (pg: boolean) =>
  `with tenants as (${TENANTS_OF_CHANNELS(pg)})
   insert into jobs (kind, payload, ordering_key, idempotency_key, status, attempts, max_attempts, run_at, channel_id, tenant, created_at, updated_at)
   select j.kind, j.payload, j.ordering_key, j.idempotency_key, 'pending', 0, j.max_attempts, j.run_at, j.channel_id, coalesce(t.tenant, ''), cast(? as bigint), cast(? as bigint)
   from ${jsonRowSet(pg, { n: 'bigint', kind: 'text', payload: 'text', ordering_key: 'text', idempotency_key: 'text', max_attempts: 'bigint', run_at: 'bigint', channel_id: 'text' })} j
   left join tenants t on t.id = j.channel_id
   where true order by j.n
   on conflict (idempotency_key) do nothing returning id, idempotency_key`;
const INSERT_JOBS_SQL = { pg: INSERT_JOBS(true), sqlite: INSERT_JOBS(false) };

/**
 * Runnable: pending and due, or running with an expired lease. PostgreSQL re-checks it on the
 * rows it locked, found by id. Written as a CASE so the planner cannot match it to an index on
 * status: with statistics from when few jobs were pending it took a status index (or the
 * partial index of unfinished jobs) for "one row" and walked the whole backlog to find a
 * handful of ids, where the primary key finds each at once.
 */
const RUNNABLE = `(case j.status when 'pending' then j.run_at <= ? when 'running' then j.locked_until < ? else false end)`;

/**
 * Unfinished jobs, in the words of the predicate of jobs_unfinished_key_idx (migration 016).
 * sqlite uses a partial index only for a query whose WHERE repeats its predicate as a term
 * (https://www.sqlite.org/partialindex.html, "Queries Using Partial Indexes"); `status =
 * 'pending'` alone does not count. So every lookup of jobs by ordering key says this too, and
 * the index is the only one there is on ordering_key for unfinished jobs.
 */
export const unfinished = (alias?: string) => `${alias ? `${alias}.` : ''}status in ('pending', 'running')`;

/**
 * No earlier job of the same ordering key (conversation) is unfinished: per-conversation order.
 * On PostgreSQL `offset 0` keeps it a per-row probe of the partial index of unfinished jobs
 * (jobs_unfinished_key_idx): pulled up into an anti join, the planner (again trusting statistics
 * in which almost nothing was pending) paired every job of a tenant's backlog with every
 * unfinished job, ~10 ms per claim under a backlog of a few thousand. sqlite probes the same
 * index per row either way.
 */
const HEAD_OF_KEY = (a: string, pg: boolean) => `not exists (select 1 from jobs e where e.ordering_key = ${a}.ordering_key and e.id < ${a}.id and ${unfinished('e')}${pg ? ' offset 0' : ''})`;

/**
 * The fair pick, as ids. The tenants with pending jobs are found by skipping from one to the
 * next on the (status, tenant, …) index (a loose index scan: a seek per tenant; as `select
 * distinct` over the due jobs it read the whole backlog, and a claim under a backlog of 3,000
 * jobs cost ~0.9 ms on sqlite instead of ~0.1). Each tenant offers its first `perTenant` due
 * jobs (walked on the same index, so a claim costs the number of tenants, not the backlog;
 * except that a due job whose conversation has an earlier one in flight is visited and passed
 * over, so one conversation with thousands queued behind a running job makes every claim
 * visit them: ~3.5 ms of sqlite time per claim for 5,000), and every running job whose lease
 * expired is offered too (there are at most as many as
 * slots were held, so they need no per-tenant walk). Each offered job gets a slot number
 * within its tenant (the jobs the tenant already has in flight, plus its rank), and jobs are
 * taken in slot order. So every tenant's next job comes before any tenant's second, a tenant
 * that already holds slots waits behind one that holds none, and no tenant passes `perTenant`
 * jobs in flight: one tenant's flood or slow host cannot hold every worker slot.
 *
 * The jobs in flight are counted per offered job by a correlated count on the index; as a
 * grouped CTE joined in, sqlite built a temporary index over it on every claim (EXPLAIN QUERY
 * PLAN: AUTOMATIC COVERING INDEX), and with the expired jobs walked per tenant a claim cost
 * ~340 µs of sqlite time under a backlog instead of ~120.
 */
const FAIR_PICK = (pg: boolean, held: boolean) => `
  with recursive ${held ? `held as (select h.tenant, h.kind from ${jsonRowSet(pg, { tenant: 'text', kind: 'text' })} h),` : ''}
  pending_tenants(tenant) as (
    select (select tenant from jobs where status = 'pending' order by tenant limit 1)
    union all
    select (select tenant from jobs where status = 'pending' and tenant > p.tenant order by tenant limit 1) from pending_tenants p where p.tenant is not null
  ),
  offered as (
    ${pg ? DUE_PG(held) : DUE_SQLITE(held)}
    union all
    select y.id, y.run_at, y.tenant from jobs y where y.status = 'running' and y.locked_until < ? and ${HEAD_OF_KEY('y', pg)}
  ),
  ranked as (
    select o.id, o.run_at,
      (select count(*) from jobs r where r.status = 'running' and r.tenant = o.tenant and r.locked_until >= ?)
        + row_number() over (partition by o.tenant order by o.run_at, o.id) as slot
    from offered o
  )
  select id from ranked where slot <= ? order by slot, run_at, id limit ?`;

/**
 * A tenant's (`t.tenant`) first `?` pending jobs that are due and head their ordering key, in
 * due order; with `held`, none of a kind the tenant is held back from (claimJobs).
 */
const TENANT_DUE = (cols: string, pg: boolean, held: boolean) => `
  select ${cols} from jobs y
  where y.tenant = t.tenant and y.status = 'pending' and y.run_at <= ?
    ${held ? 'and not exists (select 1 from held h where h.tenant = y.tenant and h.kind = y.kind)' : ''}
    and ${HEAD_OF_KEY('y', pg)}
  order by y.run_at, y.id limit ?`;

// The per-tenant walk by dialect: PostgreSQL runs it as a LATERAL join (as a correlated IN it
// re-ran it for every job row); sqlite has no LATERAL and runs the correlated IN once per tenant.
const DUE_PG = (held: boolean) => `select x.id, x.run_at, x.tenant from pending_tenants t cross join lateral (${TENANT_DUE('y.id, y.run_at, y.tenant', true, held)}) x where t.tenant is not null`;
const DUE_SQLITE = (held: boolean) => `select x.id, x.run_at, x.tenant from pending_tenants t join jobs x on x.id in (${TENANT_DUE('y.id', false, held)}) where t.tenant is not null`;

/**
 * Claims up to `limit` runnable jobs in one statement, fairly across tenants (FAIR_PICK).
 * PostgreSQL picks the ids first (`= any(array(…))` runs the pick once, as a correlated IN it
 * was re-scanned per candidate row), locks them with SKIP LOCKED and re-checks that they are
 * still runnable (a concurrent claimer may have taken them); sqlite serialises writers, so the
 * single UPDATE … RETURNING is atomic there.
 *
 * `held`: kinds of job some tenants are held back from (a shared DeferError or RetryableError:
 * their calls wait for a rate window, a budget or a circuit). Their pending jobs of that kind are
 * passed over; running jobs whose lease expired are still offered.
 */
export async function claimJobs(db: Tx, workerId: string, limit: number, now: number, leaseMs: number, perTenant = limit, held: ReadonlyArray<{ tenant: string; kind: string }> = []): Promise<Job[]> {
  const pick: Array<number | string> = [now, perTenant, now, now, perTenant, limit];
  if (held.length) pick.unshift(JSON.stringify(held));
  const sql = CLAIM_SQL[isPg(db) ? 'pg' : 'sqlite'][held.length ? 'held' : 'all'];
  // Plain SQL, not the query builder: it runs once per claim, and compiling the builder cost more CPU than the statement.
  const rows = await runRows<JobRow>(db, sql, isPg(db) ? [workerId, now + leaseMs, now, ...pick, now, now] : [workerId, now + leaseMs, now, ...pick]);
  return rows.map(toJob).sort((a, b) => a.id - b.id);
}

/** How every claim statement begins (the bench tells claims apart by it). */
export const CLAIM_HEAD = "update jobs set status = 'running'";
const CLAIM = (pick: string) => `${CLAIM_HEAD}, locked_by = ?, locked_until = ?, attempts = attempts + 1, updated_at = ? where id in (${pick}) returning *`;
const CLAIM_PG = (held: boolean) => CLAIM(`select j.id from jobs j where j.id = any(array(${FAIR_PICK(true, held)})) and ${RUNNABLE} for update skip locked`);
const CLAIM_SQL = {
  pg: { all: CLAIM_PG(false), held: CLAIM_PG(true) },
  sqlite: { all: CLAIM(FAIR_PICK(false, false)), held: CLAIM(FAIR_PICK(false, true)) },
};

/**
 * Marks many claimed jobs done in one statement: each only while the claim named with it still
 * holds it (status running, locked_by its token), so an attempt that outlived its lease cannot
 * finish a run another claim now owns. Returns the ids it finished; the others' leases were lost.
 */
export async function finishJobsDone(db: Tx, held: ReadonlyArray<{ id: number; lockedBy: string }>, now: number): Promise<Set<number>> {
  if (!held.length) return new Set();
  const rows = await runRows<{ id: number }>(db, isPg(db) ? FINISH_DONE_SQL.pg : FINISH_DONE_SQL.sqlite, [now, JSON.stringify(held.map((h) => ({ id: h.id, locked_by: h.lockedBy })))]);
  return new Set(rows.map((r) => Number(r.id)));
}

/** The jobs and their claims' tokens as one JSON list (jsonRowSet): one statement text for any number of jobs. */
const FINISH_DONE = (pg: boolean) =>
  `update jobs set status = 'done', locked_by = null, locked_until = null, updated_at = ?
   from ${jsonRowSet(pg, { id: 'bigint', locked_by: 'text' })} h
   where jobs.id = h.id and jobs.locked_by = h.locked_by and jobs.status = 'running'
   returning jobs.id`;
const FINISH_DONE_SQL = { pg: FINISH_DONE(true), sqlite: FINISH_DONE(false) };

type Finish = { status: 'done' } | { status: 'pending'; runAt: number; error: string | null; refundAttempt?: boolean } | { status: 'dead'; error: string };

/** Finishes a claimed job only if this worker still holds it; false means the lease was lost. */
export async function finishJob(db: Tx, id: number, workerId: string, outcome: Finish, now: number): Promise<boolean> {
  const row: Record<string, unknown> = { status: outcome.status, locked_by: null, locked_until: null, updated_at: now };
  if (outcome.status === 'pending') {
    row.run_at = outcome.runAt;
    row.last_error = outcome.error;
    if (outcome.refundAttempt) row.attempts = db.raw('attempts - 1');
  }
  if (outcome.status === 'dead') row.last_error = outcome.error;
  const n = await db('jobs').where({ id, locked_by: workerId, status: 'running' }).update(row);
  return n > 0;
}

export async function listJobs(db: Tx, filter: { status?: JobStatus; kind?: string; limit?: number } = {}): Promise<Job[]> {
  const q = db<JobRow>('jobs')
    .orderBy('id')
    .limit(filter.limit ?? 1000);
  if (filter.status) q.where('status', filter.status);
  if (filter.kind) q.where('kind', filter.kind);
  return (await q).map(toJob);
}

export async function backlogByChannel(db: Tx, channelIds: string[]): Promise<Map<string, { pending: number; dead: number }>> {
  const out = new Map<string, { pending: number; dead: number }>();
  if (!channelIds.length) return out;
  const rows: Array<{ channel_id: string; status: JobStatus; n: number | string }> = await db('jobs')
    .select('channel_id', 'status')
    .count({ n: '*' })
    .whereIn('channel_id', channelIds)
    .whereIn('status', ['pending', 'running', 'dead'])
    .groupBy('channel_id', 'status');
  for (const r of rows) {
    const cur = out.get(String(r.channel_id)) ?? { pending: 0, dead: 0 };
    if (r.status === 'dead') cur.dead += Number(r.n);
    else cur.pending += Number(r.n);
    out.set(String(r.channel_id), cur);
  }
  return out;
}

/**
 * Puts dead jobs back in the queue with a fresh attempt budget, optionally only those of
 * some channels (an admin replays their own). Returns how many moved.
 */
export async function replayDeadJobs(db: Tx, filter: { id?: number; all?: boolean; channelIds?: string[] }, now: number): Promise<number> {
  const q = db('jobs').where('status', 'dead');
  if (filter.channelIds) q.whereIn('channel_id', filter.channelIds);
  if (filter.id !== undefined) q.andWhere('id', filter.id);
  else if (!filter.all) return 0;
  return q.update({ status: 'pending', attempts: 0, run_at: now, locked_by: null, locked_until: null, updated_at: now });
}

/** Retention: finished jobs and dead letters older than their horizons. */
export async function purgeJobs(db: Tx, opts: { doneBefore: number; deadBefore: number }): Promise<number> {
  const done = await db('jobs').where('status', 'done').andWhere('updated_at', '<', opts.doneBefore).delete();
  const dead = await db('jobs').where('status', 'dead').andWhere('updated_at', '<', opts.deadBefore).delete();
  return done + dead;
}

export async function countJobs(db: Tx): Promise<Record<JobStatus, number>> {
  const rows: Array<{ status: JobStatus; n: number | string }> = await db('jobs').select('status').count({ n: '*' }).groupBy('status');
  const out: Record<JobStatus, number> = { pending: 0, running: 0, done: 0, dead: 0 };
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/** The outbox at a glance: jobs by status and how long the oldest unfinished one has waited. */
export async function jobGauges(db: Tx, now: number): Promise<{ byStatus: Record<JobStatus, number>; oldestPendingAgeMs: number }> {
  const [byStatus, oldest] = await Promise.all([countJobs(db), db('jobs').min({ m: 'created_at' }).whereIn('status', ['pending', 'running']).first()]);
  return { byStatus, oldestPendingAgeMs: oldest?.m == null ? 0 : Math.max(0, now - Number(oldest.m)) };
}

/**
 * Makes pending jobs of one kind and ordering key due now (e.g. sends deferred while a
 * session was being opened, once it is confirmed). Returns how many were woken.
 */
export async function wakePendingJobs(db: Tx, kind: string, orderingKey: string, now: number): Promise<number> {
  return db('jobs').where({ kind, ordering_key: orderingKey, status: 'pending' }).whereRaw(unfinished()).andWhere('run_at', '>', now).update({ run_at: now, updated_at: now });
}
