import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { koaBody } from 'koa-body';
import { z } from 'zod';
import { AppError, badRequest } from '../../ground/failures.ts';
import type { StagedFile } from '../../domain/inbox.ts';
import type { RecordType } from '../../ground/records.ts';
import { iframeAuth, type UiIdentity } from './auth.ts';
import { startRecordConversation } from '../../flows/workspace/record-panels.ts';
import { settingsRoutes } from './settings.ts';
import { readQuery, stagedUploads } from '../uploads.ts';
import { access, presentOne, listConversations, listMessages, markConversationRead, retry, send, unreadTotal } from '../../flows/workspace/chat.ts';
import type { WorkspaceDeps } from '../../flows/workspace/deps.ts';
import { issueTicket, type StreamHub } from './stream.ts';

export const uiOf = (ctx: Context): UiIdentity => ctx.state.ui as UiIdentity;

const RECORD = /^(deal|person|organization):([1-9]\d{0,14})$/;
const MAX_TEXT = 65_536;

/**
 * The workspace JSON API under /ui/api: every call carries the SDK's fresh iframe token as
 * `Authorization: Bearer`; errors answer `{error:{code,message}}`. Handlers stay thin: the
 * work is in app/flows/workspace/*.ts over the inbox and the store.
 */
export function workspaceApiRouter(d: WorkspaceDeps, hub: StreamHub): Router {
  const router = new Router({ prefix: '/ui/api' });
  router.use(async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  const auth = iframeAuth(d);
  const json = koaBody({ json: true, urlencoded: false, text: false, multipart: false, jsonLimit: '256kb', jsonStrict: true });
  const requireJson = async (ctx: Context, next: Next) => {
    if (!ctx.is('application/json')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send this as Content-Type: application/json');
    await next();
  };

  router.get('/me', auth, async (ctx) => {
    const ui = uiOf(ctx);
    const channels = await d.directory.companyChannels(ui.companyId);
    ctx.body = {
      user: { id: ui.userId, name: ui.userName, email: ui.userEmail, isAdmin: ui.isAdmin },
      company: { id: ui.companyId, name: ui.companyName },
      surface: (await d.flows.surfaceOf(ui.installationId)).surface,
      channels: channels.map((c) => ({ id: c.id, name: c.name, platform: c.platform })),
    };
  });

  router.get('/conversations', auth, async (ctx) => {
    const q = readQuery(ctx, ['channel', 'record']);
    const record = q.record === undefined ? undefined : parseRecord(q.record);
    ctx.body = { conversations: await listConversations(d, uiOf(ctx), { ...(q.channel !== undefined ? { channelId: q.channel } : {}), ...(record ? { record } : {}) }) };
  });

  router.post('/conversations', auth, requireJson, json, async (ctx) => {
    const body = StartBody.parse(ctx.request.body ?? {});
    const { conversation, created } = await startRecordConversation(d, uiOf(ctx), body.channelId, body.record);
    ctx.status = created ? 201 : 200;
    ctx.body = { conversation: await presentOne(d, uiOf(ctx), conversation) };
  });

  router.get('/conversations/:id/messages', auth, async (ctx) => {
    const q = readQuery(ctx, ['before', 'limit']);
    const a = await access(d, uiOf(ctx), ctx.params.id!);
    const before = q.before === undefined || q.before === '' ? undefined : positiveInt(q.before, 'before');
    const limit = q.limit === undefined || q.limit === '' ? 50 : Math.min(positiveInt(q.limit, 'limit'), 200);
    ctx.body = await listMessages(d, a, { ...(before !== undefined ? { before } : {}), limit });
  });

  const upload = stagedUploads(d.config.uploads, d.files);

  router.post('/conversations/:id/messages', auth, async (ctx) => {
    // Resolve the conversation before accepting any bytes: a stranger's upload never touches disk.
    const a = await access(d, uiOf(ctx), ctx.params.id!);
    const post = async (text: string, staged: StagedFile[]) => {
      if (!text.trim() && staged.length === 0) throw badRequest('A message needs text or at least one file');
      const message = await send(d, a, { text, files: staged });
      ctx.status = 201;
      ctx.body = { message };
    };
    if (ctx.is('multipart/form-data')) {
      // The upload reader removes whatever is still staged when this ends, refused or not.
      await upload(ctx, (staged) => post(TextField.parse(((ctx.request as { body?: Record<string, unknown> }).body ?? {}).text ?? ''), staged));
    } else if (ctx.is('application/json')) {
      await json(ctx, async () => {});
      await post(z.object({ text: TextField }).parse(ctx.request.body ?? {}).text, []);
    } else {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send a message as application/json {text} or multipart/form-data (text, files)');
    }
  });

  router.post('/messages/:id/retry', auth, async (ctx) => {
    ctx.status = 202;
    ctx.body = { message: await retry(d, uiOf(ctx), ctx.params.id!) };
  });

  router.post('/conversations/:id/read', auth, async (ctx) => {
    await markConversationRead(d, uiOf(ctx), await access(d, uiOf(ctx), ctx.params.id!));
    ctx.status = 204;
    void hub.unreadChanged(uiOf(ctx)).catch(() => {});
  });

  router.get('/unread', auth, async (ctx) => {
    ctx.body = { total: await unreadTotal(d, uiOf(ctx)) };
  });

  settingsRoutes(d, router, { auth, json, requireJson });

  router.post('/stream-ticket', auth, async (ctx) => {
    ctx.body = await issueTicket(d, uiOf(ctx));
  });

  // EventSource cannot send headers: the single-use ticket stands in for the bearer token.
  router.get('/stream', (ctx) => hub.open(ctx));

  return router;
}

const TextField = z
  .union([z.string(), z.array(z.string())], { error: 'text must be a text field' })
  .transform((v) => (Array.isArray(v) ? v.join('') : v))
  .pipe(z.string().max(MAX_TEXT, `text is longer than ${MAX_TEXT} characters`))
  .pipe(z.string().refine((v) => !v.includes('\u0000'), 'text contains a NUL character'));

const StartBody = z.object({
  channelId: z.string().min(1).max(64),
  record: z.object({ type: z.enum(['deal', 'person', 'organization']), id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }),
});

function parseRecord(raw: string): { type: RecordType; id: number } {
  const m = RECORD.exec(raw);
  if (!m) throw badRequest('record must look like deal:123, person:123 or organization:123');
  return { type: m[1] as RecordType, id: Number(m[2]) };
}

function positiveInt(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) throw badRequest(`${name} must be a positive integer`);
  return Number(raw);
}
