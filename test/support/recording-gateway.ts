import { EventEmitter, once } from 'node:events';
import type { Channel } from '../../app/ground/records.ts';
import type { PipedriveGateway, ReceiveMessageBody } from '../../app/flows/channels-api/receive-job.ts';

/**
 * A PipedriveGateway that keeps every receiveMessage body in memory, for end-to-end tests of
 * a platform adapter before the Pipedrive fake is wired in. `next(match)` resolves with the
 * first body (already received or still to come) that matches and was not taken before.
 */
export class RecordingGateway extends EventEmitter<{ received: [ReceiveMessageBody]; receive: [ReceiveMessageBody] }> implements PipedriveGateway {
  readonly received: Array<{ channelId: string; body: ReceiveMessageBody }> = [];
  private taken = new Set<number>();

  async receiveMessage(channel: Channel, body: ReceiveMessageBody): Promise<void> {
    this.received.push({ channelId: channel.providerChannelId, body });
    this.emit('received', body);
    this.emit('receive', body);
  }

  async next(match: (b: ReceiveMessageBody) => boolean = () => true, timeoutMs = 10_000): Promise<ReceiveMessageBody> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const i = this.received.findIndex((r, idx) => !this.taken.has(idx) && match(r.body));
      if (i >= 0) {
        this.taken.add(i);
        return this.received[i]!.body;
      }
      try {
        await once(this, 'received', { signal });
      } catch {
        throw new Error(`timed out waiting for a matching receiveMessage (got ${JSON.stringify(this.received.map((r) => [r.body.id, r.body.status]))})`);
      }
    }
  }

  /** Every body received so far, in arrival order. */
  get bodies(): ReceiveMessageBody[] {
    return this.received.map((r) => r.body);
  }
}
