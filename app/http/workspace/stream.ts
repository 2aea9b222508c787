import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { AppError } from '../../ground/failures.ts';
import { pipedriveUserKey } from '../../domain/standing.ts';
import { audienceOf, changedSince, latestMessageSeq, messageById, saveTicket, takeTicket } from '../../flows/workspace/live.ts';
import type { Outbox } from '../../runtime/outbox.ts';
import { resolveIdentity, type UiIdentity } from './auth.ts';
import { presentMessageOf, presentOne, unreadTotal } from '../../flows/workspace/chat.ts';
import type { WorkspaceDeps } from '../../flows/workspace/deps.ts';

const TICKET_TTL_MS = 60_000;
const HEARTBEAT_MS = 15_000;
/** Changes are looked for this often with someone listening (sooner when this process made one). */
const POLL_MS = 1000;
/** Writers on other processes stamp updated_at with their own clocks, and commit a little later. */
const OVERLAP_MS = 5000;
const BATCH = 500;
/** Pages per look; a busier second than this is caught up on the next look. */
const MAX_PAGES = 20;

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/** A single-use ticket (~60 s) for the EventSource, which cannot send the bearer token. */
export async function issueTicket(d: WorkspaceDeps, ui: UiIdentity): Promise<{ ticket: string; expiresAt: string }> {
  const ticket = randomBytes(32).toString('base64url');
  const expiresAt = Date.now() + TICKET_TTL_MS;
  await saveTicket(d, { hash: hash(ticket), companyId: ui.companyId, userId: ui.userId, expiresAt });
  return { ticket, expiresAt: new Date(expiresAt).toISOString() };
}

interface Subscriber {
  ui: UiIdentity;
  send(event: string, data: unknown): void;
}

/**
 * The live stream of every process: one poller per process reads the messages changed since
 * its last look (an index range on messages.updated_at, so it works across processes on
 * PostgreSQL and sqlite alike) and fans them out to this process's listeners. Changes made in
 * this process wake it at once; others are seen within POLL_MS.
 */
export class StreamHub {
  private readonly subs = new Set<Subscriber>();
  private cursor = Date.now();
  private startSeq = 0;
  private readonly seen = new Map<string, number>();
  private readonly announced = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly d: WorkspaceDeps,
    outbox: Pick<Outbox, 'on'>,
  ) {
    const wake = () => this.wake();
    d.inbox.on('changed', wake);
    outbox.on('done', wake);
    outbox.on('dead', wake);
  }

  async open(ctx: Context): Promise<void> {
    const raw = ctx.query.ticket;
    const found = typeof raw === 'string' && raw.length <= 100 ? await takeTicket(this.d, hash(raw)) : undefined;
    if (!found) throw new AppError('UNAUTHORIZED', 'The stream ticket is missing, used or expired; ask for a new one');
    const ui = await resolveIdentity(this.d, found);
    if (!this.subs.size) {
      this.cursor = Date.now() - OVERLAP_MS;
      this.startSeq = await latestMessageSeq(this.d);
    }
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    const body = new PassThrough();
    ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    ctx.status = 200;
    ctx.body = body;
    const sub: Subscriber = {
      ui,
      send: (event, data) => {
        body.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
    };
    body.write(': connected\n\n');
    const heartbeat = setInterval(() => body.write(': heartbeat\n\n'), HEARTBEAT_MS);
    this.subs.add(sub);
    const close = () => {
      clearInterval(heartbeat);
      this.subs.delete(sub);
      body.end();
    };
    ctx.req.once('close', close);
    body.once('error', close);
    sub.send('unread', { total: await unreadTotal(this.d, ui) });
    this.schedule();
  }

  /** Look now (a change was committed in this process). */
  wake(): void {
    if (!this.subs.size || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.poll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      } else this.schedule();
    });
  }

  /** Tell one user's open streams their unread total (after a read mark). */
  async unreadChanged(ui: UiIdentity): Promise<void> {
    for (const s of this.subs) if (s.ui.companyId === ui.companyId && s.ui.userId === ui.userId) s.send('unread', { total: await unreadTotal(this.d, s.ui) });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.running || !this.subs.size || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, POLL_MS);
  }

  private async poll(): Promise<void> {
    try {
      const since = this.cursor - OVERLAP_MS;
      const changes = [];
      let after: { updatedAt: number; seq: number } | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const batch = await changedSince(this.d, since, after, BATCH);
        changes.push(...batch);
        if (batch.length < BATCH) break;
        after = { updatedAt: batch.at(-1)!.updatedAt, seq: batch.at(-1)!.seq };
      }
      const fresh = changes.filter((c) => !this.seen.has(`${c.id}@${c.updatedAt}`));
      for (const c of changes) this.seen.set(`${c.id}@${c.updatedAt}`, c.updatedAt);
      if (changes.length) this.cursor = Math.max(this.cursor, changes.at(-1)!.updatedAt);
      for (const [k, at] of this.seen) if (at < since) this.seen.delete(k);
      const touched = new Map<string, UiIdentity>();
      for (const c of fresh) await this.fanOut(c.id, c.conversationPk, c.seq, touched);
      for (const s of this.subs) {
        if (!touched.has(`${s.ui.companyId}:${s.ui.userId}`)) continue;
        s.send('unread', { total: await unreadTotal(this.d, s.ui) });
      }
    } catch (err) {
      this.d.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'workspace stream poll failed; trying again');
    }
  }

  private async fanOut(messageId: string, conversationPk: number, seq: number, touched: Map<string, UiIdentity>): Promise<void> {
    const seen = await audienceOf(this.d, conversationPk);
    if (!seen) return;
    const { conversation, company, record } = seen;
    const audience = [...this.subs].filter(
      (s) => s.ui.companyId === company && (conversation.sourceUserKey === pipedriveUserKey(s.ui.companyId, s.ui.userId) || (record && record.companyId === s.ui.companyId)),
    );
    if (!audience.length) return;
    const message = await messageById(this.d, messageId);
    if (!message) return;
    const isNew = seq > this.startSeq && !this.announced.has(messageId);
    if (isNew) {
      this.announced.add(messageId);
      if (this.announced.size > 10_000) this.announced.delete(this.announced.values().next().value!);
    }
    const presented = await presentMessageOf(this.d, conversation, message);
    for (const s of audience) {
      if (isNew) s.send('message', { conversationId: conversation.id, message: presented });
      else s.send('status', { conversationId: conversation.id, messageId, status: presented.status, ...(presented.failure ? { failure: presented.failure } : {}) });
      s.send('conversation', { conversation: await presentOne(this.d, s.ui, conversation) });
      touched.set(`${s.ui.companyId}:${s.ui.userId}`, s.ui);
    }
  }
}
