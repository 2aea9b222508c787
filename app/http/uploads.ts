import multer from '@koa/multer';
import type { Context } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Config } from '../ground/config.ts';
import { badRequest } from '../ground/failures.ts';
import type { FileStore } from '../ground/file-store.ts';
import type { StagedFile } from '../domain/inbox.ts';

/**
 * The one multipart reader for messages with files (the manifest's postMessage and the
 * workspace composer): staged on local disk under the store's staging folder, within the
 * configured size and count limits, so both surfaces accept exactly the same uploads.
 *
 * It is also the one place that removes staged files. `receive` hands them to the handler and,
 * when the handler ends (answered or thrown), discards whatever is still staged: a file the
 * message adopted has moved already, so only refused, invalid or failed uploads go. A staged
 * file therefore never outlives its request, except after a crash, which the startup sweep
 * (FileStore.sweepStaged) covers. multer itself removes the files of a body it fails to read.
 */
export function stagedUploads(uploads: Config['uploads'], files: Pick<FileStore, 'stagingDir' | 'discard'>) {
  const reader = multipartReader(uploads, files);
  return async function receive<T>(ctx: Context, handle: (staged: StagedFile[]) => Promise<T>): Promise<T> {
    await reader.any()(ctx, async () => {});
    const staged: StagedFile[] = (Array.isArray(ctx.files) ? ctx.files : []).map((f) => ({ path: f.path, originalName: f.originalname, mimeType: f.mimetype, size: f.size }));
    try {
      return await handle(staged);
    } finally {
      // Best effort: a failing removal must not hide the handler's own answer or error.
      await Promise.allSettled(staged.map((f) => files.discard(f.path)));
    }
  };
}

function multipartReader(uploads: Config['uploads'], files: Pick<FileStore, 'stagingDir'>) {
  // multer takes defParamCharset (multer/index.js) though @types/koa__multer does not list it.
  return multer(<NonNullable<Parameters<typeof multer>[0]> & { defParamCharset: string }>{
    storage: multer.diskStorage({
      destination: (_req, _file, cb) => cb(null, files.stagingDir),
      filename: (_req, _file, cb) => cb(null, `up-${randomUUID()}`),
    }),
    // Browsers and fetch send a file name's UTF-8 bytes as they are; busboy's default (latin1) mangles "résumé".
    defParamCharset: 'utf8',
    limits: {
      fileSize: uploads.maxBytes,
      files: uploads.maxFiles,
      fields: 50,
      fieldSize: 256 * 1024,
      fieldNameSize: 200,
      parts: uploads.maxFiles + 50,
      headerPairs: 200,
    },
  });
}

/** The named query parameters, each at most once (a repeated one is a 400, not an array). */
export function readQuery<K extends string>(ctx: Context, names: K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const v = ctx.query[name];
    if (Array.isArray(v)) throw badRequest(`Query parameter ${name} was given more than once`);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
