import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { FileStore } from './files.ts';
import { checkStorageKey, sweepStagingDir } from './files.ts';
import type { S3Settings } from '../ground/config.ts';

export type { S3Settings };

/**
 * Attachment bytes in an S3-compatible bucket, so every app process serves every file.
 * Uploads are still staged on this machine's disk while multer enforces the size limits, then
 * streamed to the bucket (multipart past 5 MiB, bounded memory); downloads stream from GetObject.
 */
export class S3FileStore implements FileStore {
  stagingDir = '';
  private readonly client: S3Client;

  constructor(private readonly s3: S3Settings) {
    this.client = new S3Client({
      region: s3.region,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      // A copy: the config is frozen and the SDK tags the credentials object it is given.
      ...(s3.credentials ? { credentials: { ...s3.credentials } } : {}),
      forcePathStyle: s3.forcePathStyle,
      // Since SDK 3.729 the default adds CRC32 trailers (aws-chunked bodies) to every upload,
      // which many S3-compatible servers reject; send and check checksums only where the API
      // requires them. https://github.com/aws/aws-sdk-js-v3/issues/6810
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async init(): Promise<void> {
    // One staging folder per process: never shared, removed on close.
    this.stagingDir = await mkdtemp(join(tmpdir(), 'bridge-uploads-'));
  }

  async adopt(stagedPath: string, storageKey: string): Promise<void> {
    const key = this.key(storageKey);
    // queueSize 2 keeps at most two 5 MiB parts in memory per upload.
    await new Upload({
      client: this.client,
      params: { Bucket: this.s3.bucket, Key: key, Body: createReadStream(stagedPath) },
      queueSize: 2,
      partSize: 5 * 1024 * 1024,
      leavePartsOnError: false,
    }).done();
    await rm(stagedPath, { force: true });
  }

  async discard(stagedPath: string): Promise<void> {
    await rm(stagedPath, { force: true });
  }

  async remove(storageKey: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.s3.bucket, Key: this.key(storageKey) }));
  }

  async size(storageKey: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.s3.bucket, Key: this.key(storageKey) }));
      return head.ContentLength ?? null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async open(storageKey: string): Promise<{ stream: Readable; size: number } | null> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.s3.bucket, Key: this.key(storageKey) }));
      if (!got.Body || got.ContentLength === undefined) return null;
      return { stream: got.Body as Readable, size: got.ContentLength };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async sweepStaged(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.stagingDir ? sweepStagingDir(this.stagingDir, maxAgeMs, now) : 0;
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (this.stagingDir) await rm(this.stagingDir, { recursive: true, force: true });
  }

  private key(storageKey: string): string {
    return this.s3.prefix + checkStorageKey(storageKey);
  }
}

function isMissing(err: unknown): boolean {
  return err instanceof NoSuchKey || err instanceof NotFound || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404);
}
