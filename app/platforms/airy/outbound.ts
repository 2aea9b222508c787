import type { Conversation } from '../../ground/records.ts';
import { attachmentKind } from '../attachments.ts';
import type { OutgoingMessage } from '../contract.ts';
import type { AiryConversationState, IngestMessage, IngestMetadata } from './schema.ts';

/**
 * The `source_conversation_id` we write for a conversation: our own id, unless the
 * conversation was opened from Airy (then the id Airy addressed, so both sides keep
 * landing in the same Airy conversation).
 */
export function sourceConversationId(conversation: Conversation): string {
  if (conversation.platformState) {
    try {
      const s = JSON.parse(conversation.platformState) as Partial<AiryConversationState>;
      if (typeof s.source_conversation_id === 'string' && s.source_conversation_id) return s.source_conversation_id;
    } catch {
      // Not ours (or corrupt): fall back to the conversation id.
    }
  }
  return conversation.id;
}

/**
 * One Pipedrive user's message as a `/sources.webhook` body: the
 * Pipedrive user is the Airy *contact*, so `from_contact: true`; ids are ours, so a retried
 * call upserts the same Airy message. The conversation metadata names the contact, so Airy
 * shows the person instead of "Source ab12c" (the identity idea of https://github.com/airyhq/airy/issues/2632).
 */
export function buildIngest(out: OutgoingMessage, sourceChannelId: string): { messages: IngestMessage[]; metadata: IngestMetadata[] } {
  const convId = sourceConversationId(out.conversation);
  const contact: Record<string, unknown> = { display_name: out.sender.name };
  if (out.sender.email) contact.email = out.sender.email;
  if (out.sender.avatarUrl) contact.avatar_url = out.sender.avatarUrl;
  return {
    messages: [
      {
        source_message_id: out.message.id,
        source_conversation_id: convId,
        source_channel_id: sourceChannelId,
        source_sender_id: out.sender.id,
        content: {
          text: out.message.text,
          attachments: out.files.map((f) => ({
            // Airy/Messenger-style coarse kind; the exact MIME type travels alongside.
            type: attachmentKind(f.mimeType),
            mime_type: f.mimeType,
            url: f.url,
            name: f.name,
            size: f.size,
          })),
        },
        from_contact: true,
        sent_at: out.message.createdAt,
      },
    ],
    // A conversation started from a Pipedrive record also names the record
    // (conversation metadata is free-form), so the Airy agent sees what it is about.
    metadata: [{ namespace: 'conversation', source_id: convId, metadata: { contact, ...(out.context ? { pipedrive: out.context.fields } : {}) } }],
  };
}
