import Router from '@koa/router';
import type { Secrets } from '../security/crypto.ts';
import { AppError } from '../errors.ts';
import { findAttachment } from '../store/messages.ts';
import type { Db } from '../store/db.ts';
import type { FileStore } from '../store/files.ts';

/**
 * Attachments at signed, expiring URLs: /files/:id?exp=<unix seconds>&sig=<hmac>. Pipedrive
 * HEADs them (link_expires) and, once one has expired, asks getMessageById for fresh ones.
 */
export function fileUrlSigner(appUrl: string, secrets: Secrets, ttlSeconds: number, now = () => Date.now()) {
  return (attachmentId: string): string => {
    const exp = Math.floor(now() / 1000) + ttlSeconds;
    const sig = secrets.sign('file', `${attachmentId}.${exp}`);
    return `${appUrl}/files/${encodeURIComponent(attachmentId)}?exp=${exp}&sig=${sig}`;
  };
}

export function filesRouter(deps: { db: Db; secrets: Secrets; files: FileStore }): Router {
  const router = new Router();
  router.get('/files/:id', async (ctx) => {
    const id = String(ctx.params.id);
    const exp = typeof ctx.query.exp === 'string' ? ctx.query.exp : '';
    const sig = typeof ctx.query.sig === 'string' ? ctx.query.sig : '';
    if (!/^\d{1,12}$/.test(exp) || !deps.secrets.verify('file', `${id}.${exp}`, sig)) throw new AppError('FORBIDDEN', 'Invalid file signature');
    if (Number(exp) * 1000 < Date.now()) throw new AppError('FORBIDDEN', 'This file link has expired');
    const attachment = await findAttachment(deps.db, id);
    if (!attachment?.storageKey) throw new AppError('NOT_FOUND', 'File not found');
    // HEAD (Pipedrive's link check) asks for the size only; GET opens the stream once.
    const opened = ctx.method === 'HEAD' ? null : await deps.files.open(attachment.storageKey);
    const size = opened ? opened.size : await deps.files.size(attachment.storageKey);
    if (size === null) throw new AppError('NOT_FOUND', 'File not found');
    ctx.status = 200;
    ctx.type = attachment.mimeType;
    ctx.set('Content-Disposition', `inline; filename*=UTF-8''${encodeURIComponent(attachment.name)}`);
    ctx.set('Cache-Control', 'private, max-age=300');
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (opened) ctx.body = opened.stream;
    ctx.length = size;
  });
  return router;
}
