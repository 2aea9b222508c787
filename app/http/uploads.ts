import multer from '@koa/multer';
import type { Context } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Config } from '../ground/config.ts';
import { badRequest } from '../ground/failures.ts';
import type { FileStore } from '../ground/file-store.ts';

/**
 * The one multipart reader for messages with files (the manifest's postMessage and the
 * workspace composer): staged on local disk under the store's staging folder, within the
 * configured size and count limits, so both surfaces accept exactly the same uploads.
 */
export function stagedUploads(uploads: Config['uploads'], files: Pick<FileStore, 'stagingDir'>) {
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
