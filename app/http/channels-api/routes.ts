import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Config } from '../../ground/config.ts';
import { AppError, badRequest } from '../../ground/failures.ts';
import type { Inbox } from '../../domain/inbox.ts';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../../domain/conversation-pages.ts';
import type { Channel } from '../../ground/records.ts';
import { conversationJson, MessageJsonCache, presentMessage, presentSender, presentTemplates, presentConversationsJson, type PresentDeps } from '../../flows/channels-api/present.ts';
import type { FileStore } from '../../ground/file-store.ts';
import { pipedriveBasicAuth } from '../basic-auth.ts';
import { familyOf } from '../paths.ts';
import { readQuery, stagedUploads } from '../uploads.ts';

/**
 * The seven manifest endpoints Pipedrive calls (https://pipedrive.readme.io/docs/implementing-messaging-app-extension),
 * mounted under /api. Handlers only parse, call the inbox, and shape the answer.
 */
/** Basic auth on everything under /api, matched route or not (an unknown route is still 401 first). */
export function channelsApiGuard(config: Config) {
  const auth = pipedriveBasicAuth(config.pipedrive.clientId, config.pipedrive.clientSecret);
  // Keyed on the canonical path's family (paths.ts), so every spelling the router accepts is guarded.
  return (ctx: Context, next: Next) => (familyOf(ctx) === 'manifest' ? auth(ctx, next) : next());
}

export function channelsApiRouter(deps: { config: Config; inbox: Inbox; files: FileStore; present: PresentDeps }): Router {
  const { config, inbox, files, present } = deps;
  const router = new Router({ prefix: '/api/channels' });
  // The pages' message JSON, per app (present.ts): entries are checked against every row read.
  const messageJson = new MessageJsonCache();

  const channelOf = (ctx: Context): Promise<Channel> => inbox.activeChannel(param(ctx, 'providerChannelId'));

  router.get('/:providerChannelId/conversations', async (ctx) => {
    const q = readQuery(ctx, ['conversations_limit', 'messages_limit', 'after']);
    const channel = await channelOf(ctx);
    const page = await inbox.listConversations(channel, {
      conversationsLimit: limit(q.conversations_limit, 'conversations_limit'),
      messagesLimit: limit(q.messages_limit, 'messages_limit'),
      after: q.after || undefined,
    });
    jsonBytes(ctx, presentConversationsJson(page.items, page.after ? { after: page.after } : {}, present, messageJson));
  });

  router.get('/:providerChannelId/conversations/:sourceConversationId', async (ctx) => {
    const q = readQuery(ctx, ['messages_limit', 'after']);
    const channel = await channelOf(ctx);
    const view = await inbox.getConversation(channel, param(ctx, 'sourceConversationId'), {
      messagesLimit: limit(q.messages_limit, 'messages_limit'),
      after: q.after || undefined,
    });
    jsonBytes(
      ctx,
      Buffer.concat([
        Buffer.from('{"success":true,"data":'),
        conversationJson(view, present, messageJson),
        Buffer.from(`,"additional_data":${JSON.stringify(view.nextMessagesCursor ? { after: view.nextMessagesCursor } : {})}}`),
      ]),
    );
  });

  const upload = stagedUploads(config.uploads, files);

  router.post('/:providerChannelId/messages', async (ctx) => {
    if (!ctx.is('multipart/form-data')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'postMessage expects multipart/form-data');
    }
    // Resolve the channel before accepting any bytes, so an unknown channel never touches disk.
    const channel = await channelOf(ctx);
    await upload(ctx, async (staged) => {
      const form = PostMessageForm.parse((ctx.request as { body?: unknown }).body ?? {});
      if (!form.message.trim() && staged.length === 0) throw badRequest('A message needs text (`message`) or at least one file');
      const message = await inbox.postMessage(channel, { conversationId: form.conversationId, text: form.message, files: staged });
      ctx.body = { success: true, data: { id: message.id } };
    });
  });

  const getMessage = async (ctx: Context, conversationId?: string) => {
    const channel = await channelOf(ctx);
    const message = await inbox.getMessage(channel, param(ctx, 'sourceMessageId'), conversationId);
    // getMessageById answers the bare message object (no success/data envelope).
    ctx.body = presentMessage(message, present);
  };
  router.get('/:providerChannelId/messages/:sourceMessageId', (ctx) => getMessage(ctx));
  router.get('/:providerChannelId/conversations/:sourceConversationId/messages/:sourceMessageId', (ctx) => getMessage(ctx, param(ctx, 'sourceConversationId')));

  router.get('/:providerChannelId/senders/:senderId', async (ctx) => {
    const channel = await channelOf(ctx);
    ctx.body = { success: true, data: presentSender(await inbox.getSender(channel, param(ctx, 'senderId'))) };
  });

  router.get('/:providerChannelId/templates', async (ctx) => {
    const channel = await channelOf(ctx);
    ctx.body = { success: true, data: presentTemplates(await inbox.templates(channel)) };
  });

  router.delete('/:providerChannelId', async (ctx) => {
    const id = param(ctx, 'providerChannelId');
    try {
      await inbox.deleteChannel(await inbox.activeChannel(id));
    } catch (err) {
      // Deleting a channel that is already gone is a success: Pipedrive may retry.
      if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
    }
    ctx.body = { success: true };
  });

  return router;
}

const field = (name: string, max: number) =>
  z
    .union([z.string(), z.array(z.string())], { error: `${name} must be a text field` })
    .transform((v) => (Array.isArray(v) ? v.join('') : v))
    .pipe(z.string().max(max, `${name} is longer than ${max} characters`))
    .pipe(z.string().refine((v) => !v.includes('\u0000'), `${name} contains a NUL character`));

/** postMessage's form, lenient where Pipedrive's docs disagree (recipientIds forms, senderId). */
const PostMessageForm = z.object({
  message: field('message', 65_536).default(''),
  conversationId: field('conversationId', 255).pipe(z.string().min(1, 'conversationId is required')),
  senderId: field('senderId', 255).optional(),
  recipientIds: z.union([z.string(), z.array(z.string())]).optional(),
  'recipientIds[]': z.union([z.string(), z.array(z.string())]).optional(),
});

/**
 * A page as JSON bytes, the same koa writes for an object body (type `application/json;
 * charset=utf-8`, Content-Length): a 30×30 page is ~270 KB, and as a string koa measures its
 * UTF-8 length in one pass and the socket encodes it in another.
 */
/** A JSON answer already written as UTF-8 bytes (koa would otherwise stringify a body object itself). */
function jsonBytes(ctx: Context, json: Buffer): void {
  ctx.type = 'json';
  ctx.body = json;
}

function param(ctx: Context, name: string): string {
  const v = (ctx.params as Record<string, string | undefined>)[name];
  // No id of ours is empty, longer than 255 or holds control characters (PostgreSQL rejects NUL outright).
  if (v === undefined || v.length === 0 || v.length > 255 || /[\u0000-\u001f]/.test(v)) throw new AppError('NOT_FOUND', `${name} not found`);
  return v;
}

/** Default 30; at most MAX_PAGE_LIMIT (larger values are clamped); not a positive integer → 400. */
function limit(raw: string | undefined, name: string): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PAGE_LIMIT;
  if (!/^\d{1,9}$/.test(raw.trim())) throw badRequest(`${name} must be a positive integer`);
  const n = Number(raw.trim());
  if (n < 1) throw badRequest(`${name} must be at least 1`);
  return Math.min(n, MAX_PAGE_LIMIT);
}
