import { createHmac } from 'node:crypto';
import type { AiryModel, FakeMessage } from './model.ts';
import { iso } from './model.ts';

/** One POST the fake made to a source's action endpoint, and what came back. */
export interface ActionCall {
  messageId: string;
  endpoint: string;
  body: string;
  signature: string;
  status: number | null;
  response: string;
  outcome: { state: 'DELIVERED'; sourceMessageId: string } | { state: 'FAILED'; error: string | null };
}

/** The action body exactly as Airy's sources-api Stores builds it, nulls present. */
export function actionBody(model: AiryModel, m: FakeMessage, priorConversation: boolean): string {
  const c = priorConversation ? model.conversations.get(m.conversationId) : undefined;
  const channel = c ? model.channels.get(c.channelId) : undefined;
  const conversation =
    c && channel ? { id: c.id, channel_id: c.channelId, source_channel_id: channel.sourceChannelId, source_conversation_id: c.sourceConversationId, created_at: iso(c.createdAt) } : null;
  return JSON.stringify({
    type: 'message.send',
    payload: {
      message: { id: m.id, source_recipient_id: m.sourceRecipientId ?? c?.sourceConversationId ?? null, content: m.content, sent_at: iso(m.sentAt) },
      conversation,
    },
  });
}

/**
 * POSTs one action and interprets the reply the way Airy's Endpoint/Actions do: only status
 * 200 with a string `source_message_id` is success; any other status is read as
 * `{"error": "<string>"}`; no retry. A non-200 JSON answer without a string `error` would
 * crash Airy's stream thread (the error field is non-null in Avro): reported as error null.
 */
export async function callAction(endpoint: string, token: string, m: FakeMessage, body: string, timeoutMs: number): Promise<ActionCall> {
  const bytes = Buffer.from(body, 'utf8');
  const signature = createHmac('sha256', token).update(bytes).digest('hex');
  const call: ActionCall = { messageId: m.id, endpoint, body, signature, status: null, response: '', outcome: { state: 'FAILED', error: null } };
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-airy-content-signature': signature },
      body: bytes,
      signal: AbortSignal.timeout(timeoutMs),
    });
    call.status = res.status;
    call.response = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(call.response);
    } catch {
      json = undefined;
    }
    const o = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    if (res.status === 200) {
      call.outcome =
        typeof o.source_message_id === 'string' ? { state: 'DELIVERED', sourceMessageId: o.source_message_id } : { state: 'FAILED', error: 'Action endpoint returned no source_message_id' };
    } else if (json === undefined) {
      call.outcome = { state: 'FAILED', error: `Action endpoint returned invalid error: ${call.response.slice(0, 200)}` };
    } else {
      call.outcome = { state: 'FAILED', error: typeof o.error === 'string' ? o.error : null };
    }
  } catch (err) {
    call.outcome = { state: 'FAILED', error: err instanceof Error ? err.message : String(err) };
  }
  return call;
}
