import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { newId } from '../../app/domain/inbox.ts';
import { PermanentError, RetryableError } from '../../app/ground/failures.ts';
import { PlatformError, type AdapterFactory, type OutgoingMessage, type PlatformAdapter } from '../../app/platforms/contract.ts';
import { safeEqual } from '../../app/ground/security/crypto.ts';

/**
 * A platform for tests of the foundation: it records what the bridge sends, fails on
 * command, and accepts webhooks signed with HMAC-SHA256 of the raw body keyed with the
 * channel's `secret`.
 */
export type Step = 'ok' | 'retry' | 'permanent' | 'gate' | 'stall';

export class TestPlatform {
  sent: Array<{ channelId: string; message: OutgoingMessage }> = [];
  connected: string[] = [];
  disconnected: string[] = [];
  /** Consumed one per send; empty means 'ok'. */
  script: Step[] = [];
  failConnect: string | null = null;
  /** Channels whose every send hangs like a host that never answers, ignoring the abort signal ('stall'). */
  stallChannels = new Set<string>();
  /** The abort signal each stalled send was given, in order. */
  stalled: Array<{ channelId: string; messageId: string; signal: AbortSignal | undefined }> = [];
  /** Sends parked at a 'gate' step (a worker stuck mid-job) until `openGates()`. */
  private gates: Array<() => void> = [];
  readonly gateEvents = new EventEmitter<{ parked: [] }>();

  openGates(): void {
    for (const open of this.gates.splice(0)) open();
  }

  factory(kind = 'test'): AdapterFactory {
    return (services): PlatformAdapter<{ secret: string }, { remote: string }> => ({
      kind,
      displayName: 'Test platform',
      configSchema: z.object({ secret: z.string().min(1) }),
      connect: async (input) => {
        if (this.failConnect) throw new PlatformError(this.failConnect);
        this.connected.push(input.channelId);
        return { state: { remote: `remote-${input.channelId}` } };
      },
      disconnect: async ({ channel }) => {
        this.disconnected.push(channel.id);
      },
      send: async ({ channel }, message) => {
        const step = this.stallChannels.has(channel.id) ? 'stall' : (this.script.shift() ?? 'ok');
        if (step === 'stall') {
          this.stalled.push({ channelId: channel.id, messageId: message.message.id, signal: message.signal });
          this.gateEvents.emit('parked');
          return new Promise<never>(() => {});
        }
        if (step === 'retry') throw new RetryableError('platform busy');
        if (step === 'permanent') throw new PermanentError('platform rejected the message');
        if (step === 'gate') {
          await new Promise<void>((resolve) => {
            this.gates.push(resolve);
            this.gateEvents.emit('parked');
          });
        }
        this.sent.push({ channelId: channel.id, message });
        return { platformMessageId: `p-${message.message.id}` };
      },
      webhook: async ({ channel, config }, req) => {
        const sig = String(req.headers['x-test-signature'] ?? '');
        const expected = createHmac('sha256', config.secret).update(req.rawBody).digest('hex');
        if (!safeEqual(sig, expected)) return { status: 401, body: { error: 'bad signature' } };
        let body: { eventId: string; conversationId: string; text: string };
        try {
          body = z.object({ eventId: z.string(), conversationId: z.string(), text: z.string() }).parse(JSON.parse(req.rawBody.toString('utf8')));
        } catch {
          return { status: 400, body: { error: 'bad payload' } };
        }
        const conversation = await services.domain.findConversation(channel, { id: body.conversationId });
        if (!conversation) return { status: 404, body: { error: 'unknown conversation' } };
        const endUser = (await services.domain.participants(conversation)).find((p) => p.role === 'end_user');
        const r = await services.domain.recordInbound(channel, {
          dedupe: { source: `test:${channel.id}`, key: body.eventId },
          conversation,
          senderId: endUser?.id ?? 'agent-1',
          text: body.text,
          platformMessageId: body.eventId,
          createdAt: Date.now(),
        });
        return { status: 200, body: 'duplicate' in r ? { duplicate: true } : { id: r.message.id } };
      },
    });
  }
}

export const sign = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');
export { newId };
