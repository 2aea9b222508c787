import Router from '@koa/router';
import type { Context } from 'koa';
import type { Secrets } from '../ground/security/crypto.ts';
import { AppError } from '../ground/failures.ts';
import type { Logger } from '../ground/log.ts';
import type { Directory } from '../domain/directory.ts';
import type { FileStore } from '../ground/file-store.ts';

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

/**
 * Types a browser only displays, never runs: raster images, PDF, audio and video stay inline
 * under their own type. Everything else (HTML, SVG, XML, JavaScript, text…) is an
 * `application/octet-stream` download: user bytes never render as a document of our origin.
 */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif|bmp)|application\/pdf|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+)$/;

export function servedAs(mimeType: string): { type: string; disposition: 'inline' | 'attachment' } {
  const essence = mimeType.split(';')[0]!.trim().toLowerCase();
  return INLINE.test(essence) ? { type: essence, disposition: 'inline' } : { type: 'application/octet-stream', disposition: 'attachment' };
}

/**
 * Headers for any attachment answer: no sniffing into an active type, and, should a browser
 * render it anyway, a sandboxed document with no script, plugin or same-origin access
 * (https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/sandbox).
 * CORP is cross-origin on purpose: Pipedrive's web app, another site, shows these files.
 */
const FILE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; sandbox",
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'private, max-age=300',
};

const asciiFallback = (name: string) => name.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, 150) || 'file';

export interface DownloadLimits {
  /** A download whose socket makes no progress this long is dropped (a reader that stopped reading). */
  sendTimeoutMs: number;
  /** Downloads streamed at once by this process; more → 503 with Retry-After. */
  maxConcurrent: number;
}

export function filesRouter(deps: { directory: Pick<Directory, 'attachment'>; secrets: Secrets; files: FileStore; limits: DownloadLimits; log: Logger }): Router {
  const router = new Router();
  let active = 0;

  router.get('/files/:id', async (ctx) => {
    const id = String(ctx.params.id);
    const exp = typeof ctx.query.exp === 'string' ? ctx.query.exp : '';
    const sig = typeof ctx.query.sig === 'string' ? ctx.query.sig : '';
    if (!/^\d{1,12}$/.test(exp) || !deps.secrets.verify('file', `${id}.${exp}`, sig)) throw new AppError('FORBIDDEN', 'Invalid file signature');
    if (Number(exp) * 1000 < Date.now()) throw new AppError('FORBIDDEN', 'This file link has expired');
    const attachment = await deps.directory.attachment(id);
    if (!attachment?.storageKey) throw new AppError('NOT_FOUND', 'File not found');
    // HEAD (Pipedrive's link check) gets the headers only; no file handle is opened for it.
    const streams = ctx.method !== 'HEAD';
    if (streams && active >= deps.limits.maxConcurrent) {
      ctx.set('Retry-After', '5');
      throw new AppError('SERVICE_UNAVAILABLE', 'Too many downloads in progress; retry shortly');
    }
    // GET opens the stream once (one call to a bucket); HEAD asks for the size only.
    const opened = streams ? await deps.files.open(attachment.storageKey) : null;
    const size = opened ? opened.size : await deps.files.size(attachment.storageKey);
    if (size === null) throw new AppError('NOT_FOUND', 'File not found');
    const { type, disposition } = servedAs(attachment.mimeType);
    ctx.set(FILE_HEADERS);
    ctx.set('Content-Disposition', `${disposition}; filename="${asciiFallback(attachment.name)}"; filename*=UTF-8''${encodeURIComponent(attachment.name)}`);
    if (opened) {
      holdSlot(ctx);
      ctx.body = opened.stream;
    }
    ctx.status = 200;
    ctx.type = type;
    ctx.length = size;
  });

  /**
   * Counts the download until its response closes (finished or torn down), and drops a
   * connection whose writes stall: the socket's idle timer only advances when the client
   * takes bytes, so a reader that never reads cannot pin the socket and file handle.
   */
  function holdSlot(ctx: Context): void {
    active++;
    const res = ctx.res;
    let stalled = false;
    res.once('close', () => {
      active--;
      if (stalled) (ctx.state.log ?? deps.log).info({ path: ctx.path, timeoutMs: deps.limits.sendTimeoutMs }, 'file download stalled; connection dropped');
    });
    res.setTimeout(deps.limits.sendTimeoutMs, () => {
      stalled = true;
      res.destroy();
    });
  }

  return router;
}
