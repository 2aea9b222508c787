import type { Channel, Conversation } from '../../ground/records.ts';
import type { ChannelContext, PlatformServices, WebhookReply, WebhookRequest } from '../contract.ts';
import { mapContent } from './content.ts';
import { airyIds } from './ids.ts';
import { ActionSchema, type AiryConfig, type AirySendAction, type AiryState } from './schema.ts';
import { SIGNATURE_HEADER, verifyAirySignature } from './verify.ts';

/**
 * Who answers on the Airy side. The action body carries no sender,
 * so every Airy user or bot reply is attributed to one end_user per conversation: the one it
 * already has, or this one in a conversation an Airy user opened.
 */
export const AIRY_AGENT = { id: 'airy-agent', role: 'end_user' as const, name: 'Airy', avatarUrl: null, email: null };

/** The largest epoch millisecond a JavaScript Date can hold. */
const MAX_TIME_MS = 8.64e15;

const fail = (status: number, error: string): WebhookReply => ({ status, body: { error } });

/**
 * POST /webhooks/airy/:channelId, Airy's action endpoint. Verify the raw bytes, store the
 * reply and queue its delivery to Pipedrive in one transaction, then answer exactly
 * 200 `{source_message_id}` (Airy counts nothing else as success). Every other answer
 * carries a string `error`: Airy stores it on the FAILED message, and a missing one can
 * crash Airy's stream thread.
 */
export async function handleAction(services: Pick<PlatformServices, 'domain' | 'log'>, { channel, state }: ChannelContext<AiryConfig, AiryState>, req: WebhookRequest): Promise<WebhookReply> {
  if (!state?.source_token) return fail(503, 'This channel has no Airy source yet');
  const check = verifyAirySignature(state.source_token, req.rawBody, req.headers[SIGNATURE_HEADER]);
  if (!check.ok) return fail(401, check.error);

  let action: AirySendAction;
  try {
    const parsed = ActionSchema.safeParse(JSON.parse(req.rawBody.toString('utf8')));
    if (!parsed.success) return fail(400, `Invalid action payload: ${parsed.error.issues[0]?.path.join('.') || 'body'} ${parsed.error.issues[0]?.message ?? ''}`.trim());
    action = parsed.data;
  } catch {
    return fail(400, 'The action body is not JSON');
  }
  if (action.type !== 'message.send') return fail(400, `Unsupported action type "${action.type}"`);

  const { message } = action.payload;
  const resolved = await resolveConversation(services, channel, state, action);
  if ('error' in resolved) return resolved.error;
  const conversation = resolved.conversation;
  // Pipedrive conversations are 1:1 and every sender must be a participant it already knows:
  // replies speak as the conversation's end_user (a standing conversation's platform side).
  const endUser = (await services.domain.participants(conversation)).find((p) => p.role === 'end_user');
  if (!endUser) await services.domain.upsertParticipant(conversation, AIRY_AGENT);

  const content = mapContent(message.content);
  const sentAt = typeof message.sent_at === 'number' ? message.sent_at : Date.parse(message.sent_at ?? '');
  const r = await services.domain.recordInbound(channel, {
    // Airy delivers at least once (Kafka Streams, 1 s commits): its message id is the key.
    dedupe: { source: `airy:${channel.id}`, key: message.id },
    conversation,
    senderId: endUser?.id ?? AIRY_AGENT.id,
    text: content.text,
    platformMessageId: message.id,
    // Outside the Date range a time cannot be stored (bigint) or shown (toISOString throws).
    createdAt: Number.isFinite(sentAt) && Math.abs(sentAt) <= MAX_TIME_MS ? Math.trunc(sentAt) : Date.now(),
    attachments: content.attachments,
  });
  if ('message' in r) return { status: 200, body: { source_message_id: r.message.id } };

  const original = await services.domain.findMessageByPlatformId(channel, message.id);
  // Only possible if the first delivery's transaction has not committed yet: let Airy fail it
  // rather than answer with an id we cannot name (its /messages.resend then finds the stored one).
  if (!original) return fail(409, 'This message is being stored by an earlier delivery');
  services.log.info({ channel: channel.id, airyMessage: message.id }, 'airy action redelivered; answered with the stored id');
  return { status: 200, body: { source_message_id: original.id } };
}

/**
 * `payload.conversation.id` is Airy's conversation id, which we keep as platformRef (it is
 * airyUuid(source_id + the source_conversation_id we write)). Its `source_conversation_id`
 * is NOT our id: Airy fills it with the sender of the latest contact message (its sources-api
 * `Stores` builds the action body that way: https://github.com/airyhq/airy/tree/develop/backend/components/sources-api).
 * A null conversation means an Airy user wrote to `source_recipient_id` in a new one.
 */
async function resolveConversation(
  services: Pick<PlatformServices, 'domain'>,
  channel: Channel,
  state: AiryState,
  action: AirySendAction,
): Promise<{ conversation: Conversation } | { error: WebhookReply }> {
  const { domain } = services;
  const { message, conversation } = action.payload;
  if (conversation) {
    // Which conversation is all this path needs: the cached lookup will do.
    const found = await domain.knownConversation(channel, { platformRef: conversation.id });
    if (found) return { conversation: found };
    if (!message.source_recipient_id) return { error: fail(404, `Unknown conversation ${conversation.id}`) };
  }
  const recipient = message.source_recipient_id;
  if (!recipient) return { error: fail(400, 'A message to a new conversation needs source_recipient_id') };
  const airyConversationId = airyIds.conversation(state.source_id, recipient);
  if (conversation && conversation.id !== airyConversationId) return { error: fail(404, `Unknown conversation ${conversation.id}`) };
  const known = await domain.knownConversation(channel, { platformRef: airyConversationId });
  if (known) return { conversation: known };
  // One of ours that has not written to Airy yet but would land in that Airy conversation.
  const same = await domain.findConversation(channel, { id: recipient });
  if (same && !same.platformState) {
    await domain.updateConversation(same, { platformRef: airyConversationId });
    return { conversation: same };
  }

  // The recipient is a person (Airy's conversation handle is its latest contact sender):
  // reuse what we know about that Pipedrive user, if anything.
  const person = await domain.findParticipant(channel, recipient);
  const created = await domain.ensureConversation(channel, {
    // Deterministic, so a redelivered action that races the first one lands in the same row.
    id: `airy-${airyConversationId}`,
    platformRef: airyConversationId,
    platformState: JSON.stringify({ source_conversation_id: recipient }),
    participants: [{ id: recipient, role: 'source_user', name: person?.name ?? recipient, avatarUrl: person?.avatarUrl ?? null, email: person?.email ?? null }, AIRY_AGENT],
  });
  return { conversation: created };
}
