import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver is CommonJS; its default export is the server class.
import S3rver from '@20minutes/s3rver';
import { freePort } from './harness.ts';

/**
 * A local S3-compatible server (s3rver, from npm) with one bucket, in this test process.
 * `env(prefix)` is what a bridge needs to keep its attachments there.
 */
export async function startS3(bucket = 'bridge-files') {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    bucket,
    endpoint,
    dir,
    env: (prefix = 'attachments'): Record<string, string> => ({
      FILES_STORE: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      // s3rver's fixed development credentials.
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    }),
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
