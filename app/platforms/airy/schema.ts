import { z } from 'zod';
import { platformId, platformText } from '../../ground/security/input.ts';
import { platformUrl } from '../../ground/security/outbound-policy.ts';

/**
 * What the admin enters per channel. The `.meta()` texts are
 * the admin page's label, hint, placeholder and password flag for each field.
 */
export const AiryConfigSchema = z.object({
  api_url: platformUrl('base').meta({
    title: 'Airy host URL',
    description:
      'The address of your Airy Core installation, without a path; the bridge calls /sources.create and the other Source API endpoints on it. It is the host in the address bar of the Airy inbox.',
    placeholder: 'https://airy.example.com',
    secret: false,
  }),
  system_token: z.string().trim().min(1, 'is required').meta({
    title: 'System token',
    description: "Airy's system token: security.systemToken in your Airy Helm values (integration.source-api.enabled must be true). It lets the bridge create its Airy source.",
    placeholder: 'paste the system token',
    secret: true,
  }),
});
export type AiryConfig = z.infer<typeof AiryConfigSchema>;

/** What connect() keeps per channel (sealed by the caller: the source token is a secret). */
export interface AiryState {
  source_id: string;
  source_token: string;
  /** Airy's channel id (airyUuid(source_id + source_channel_id)). */
  channel_id: string;
  source_channel_id: string;
}

/** Our conversation's handle on the Airy side, kept in conversations.platform_state. */
export interface AiryConversationState {
  /** The `source_conversation_id` we write; Airy's conversation id is airyUuid(source_id + it). */
  source_conversation_id: string;
}

// ── the action endpoint ────────────────────────────────────────────

// Length caps match the columns the values land in (event keys 255, participant ids 128), and
// ids carry no control characters: PostgreSQL refuses longer strings and NUL bytes, which
// would otherwise surface as a 500 instead of Airy's "bad request".
export const ActionSchema = z.object({
  type: z.string(),
  payload: z.object({
    message: z.object({
      id: platformId(255),
      source_recipient_id: platformText(128).nullish(),
      content: z.unknown(),
      sent_at: z.union([z.string(), z.number()]).nullish(),
    }),
    conversation: z
      .object({
        id: platformId(255),
        channel_id: z.string().nullish(),
        source_channel_id: z.string().nullish(),
        // Holds the source_sender_id of the latest contact message, NOT the conversation id we posted.
        source_conversation_id: z.string().nullish(),
        created_at: z.string().nullish(),
      })
      .nullish(),
  }),
});
export type AirySendAction = z.infer<typeof ActionSchema>;

// ── /sources.webhook ───────────────────────────────────────────────

export interface IngestMessage {
  source_message_id: string;
  source_conversation_id: string;
  source_channel_id: string;
  source_sender_id: string;
  content: unknown;
  from_contact: boolean;
  /** Epoch milliseconds (a number in seconds would land in 1970). */
  sent_at: number;
}

export interface IngestMetadata {
  namespace: 'conversation' | 'message';
  source_id: string;
  metadata: Record<string, unknown>;
}

// ── WebSocket events ───────────────────────────────────────────────

export const WsEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message.created'),
    payload: z.object({
      conversation_id: z.string().nullish(),
      channel_id: z.string().nullish(),
      message: z.object({
        id: z.string(),
        delivery_state: z.string().nullish(),
        from_contact: z.boolean().nullish(),
        source: z.string().nullish(),
      }),
    }),
  }),
  z.object({
    type: z.literal('metadata.updated'),
    payload: z.object({
      subject: z.string(),
      identifier: z.string(),
      metadata: z.record(z.string(), z.unknown()).nullish(),
    }),
  }),
  z.object({
    type: z.literal('channel.updated'),
    payload: z.object({ id: z.string(), source: z.string().nullish(), connected: z.boolean().nullish() }),
  }),
]);
export type AiryWsEvent = z.infer<typeof WsEventSchema>;
