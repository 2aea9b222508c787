import { AppError } from '../ground/failures.ts';
import { TokenBuckets, waitSeconds } from '../ground/security/token-buckets.ts';
import type { Db } from '../store/db.ts';
import { storedAttachmentBytes, tenantOf } from '../store/retention.ts';
import type { Channel } from '../ground/records.ts';

export interface QuotaConfig {
  /** Attachment bytes a tenant may keep on our disk (0 = unlimited). */
  attachmentBytes: number;
  /** Messages a tenant's users may post per minute, per process (0 = unlimited). */
  messagesPerMinute: number;
}

/**
 * Per-tenant bounds on what Pipedrive users of one company make us store and send, so one
 * company cannot fill the disk or the outbox for everyone. A tenant is a Pipedrive company
 * (all its installations' channels).
 */
export class Quotas {
  private readonly posts: TokenBuckets;

  constructor(
    private readonly db: Db,
    private readonly cfg: QuotaConfig,
  ) {
    // A minute's budget may be spent at once, then it refills evenly.
    this.posts = new TokenBuckets({ perMinute: cfg.messagesPerMinute, burst: Math.max(1, cfg.messagesPerMinute) });
  }

  /** Throws 429 (messages per minute) or 413 (stored bytes) before a message with `incomingBytes` of files is stored. */
  async admitPost(channel: Channel, incomingBytes: number): Promise<void> {
    // Without a per-minute budget only stored bytes are counted, and a message without files adds none.
    if (!this.cfg.messagesPerMinute && (!this.cfg.attachmentBytes || incomingBytes <= 0)) return;
    const tenant = await tenantOf(this.db, channel.id);
    const wait = this.posts.take(tenant.key);
    if (wait > 0) {
      const seconds = waitSeconds(wait);
      throw new AppError('RATE_LIMIT_EXCEEDED', `This company posts more than ${this.cfg.messagesPerMinute} messages per minute; retry in ${seconds} s`, {}, seconds);
    }
    if (this.cfg.attachmentBytes && incomingBytes > 0) {
      const stored = await storedAttachmentBytes(this.db, tenant.channelIds);
      if (stored + incomingBytes > this.cfg.attachmentBytes) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `This company's stored attachments would exceed its quota of ${formatMb(this.cfg.attachmentBytes)}; older files are removed by retention, or ask the operator to raise the quota`,
        );
      }
    }
  }
}

const formatMb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;
