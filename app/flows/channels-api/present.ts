import type { ConversationView } from '../../domain/conversation-pages.ts';
import type { Message, Participant, Template } from '../../ground/records.ts';

/**
 * Domain records in the shapes of Pipedrive's provider-endpoint contract
 * (https://pipedrive.readme.io/docs/messaging-app-extension).
 */
export interface PresentDeps {
  fileUrl(attachmentId: string): string;
}

export function presentMessage(m: Message, deps: PresentDeps) {
  return {
    id: m.id,
    status: m.status,
    // Full ISO-8601 UTC with milliseconds: Pipedrive sorts by it, minute precision would not order a burst.
    created_at: new Date(m.createdAt).toISOString(),
    message: m.text,
    sender_id: m.senderId,
    attachments: m.attachments.map((a) => {
      const stored = a.storageKey !== null;
      return {
        id: a.id,
        type: a.mimeType,
        name: a.name,
        ...(a.size !== null ? { size: a.size } : {}),
        url: stored ? deps.fileUrl(a.id) : (a.remoteUrl ?? ''),
        // Our URLs are signed and expire: Pipedrive re-fetches the message through getMessageById.
        link_expires: stored,
      };
    }),
  };
}

export function presentParticipant(p: Participant) {
  return {
    id: p.id,
    name: p.name,
    role: p.role,
    ...(p.avatarUrl ? { avatar_url: p.avatarUrl } : {}),
  };
}

export function presentConversation(v: ConversationView, deps: PresentDeps) {
  return {
    id: v.conversation.id,
    link: v.conversation.link,
    status: v.conversation.status,
    seen: v.conversation.seen,
    // Omitted (not null) on the last page: Pipedrive's OpenAPI file for these endpoints types it as a string
    // (https://github.com/pipedrive/omnichannel-api-docs).
    ...(v.nextMessagesCursor ? { next_messages_cursor: v.nextMessagesCursor } : {}),
    messages: v.messages.map((m) => presentMessage(m, deps)),
    participants: v.participants.map(presentParticipant),
  };
}

export function presentSender(p: Participant) {
  return { id: p.id, name: p.name, avatar_url: p.avatarUrl ?? '' };
}

export function presentTemplates(templates: Template[]) {
  return { templates: templates.map((t) => ({ id: t.id, name: t.name, content: t.content, language: t.language })) };
}
