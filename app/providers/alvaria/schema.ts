import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { isHttpUrl, platformUrl } from '../../security/outbound.ts';
import { platformId } from '../../security/input.ts';

/**
 * Shapes of the Alvaria Server Messaging API v2 (seeds/alvaria-server-messaging-api.txt):
 * the per-channel configuration, and every callback the API posts to our webhook.
 */


const pem = z
  .string()
  .trim()
  .refine((v) => {
    try {
      createPublicKey(v);
      return true;
    } catch {
      return false;
    }
  }, 'must be a PEM public key (or certificate) for RS256');

export const AlvariaConfigSchema = z.object({
  /** Like https://{org}.via.aspect-cloud.net; the app appends /via/v2/organizations/{org_id}/serverMessaging/… */
  api_url: platformUrl('base'),
  /** The full token URL (hosts differ per region); nothing is appended, so a query (realm) may stay. */
  token_url: platformUrl('full'),
  org_id: z.string().trim().min(1).max(255),
  client_id: z.string().trim().min(1),
  client_secret: z.string().min(1),
  api_key: z.string().trim().min(1),
  work_type_id: z.union([z.string().trim().min(1), z.number().int()]).transform(String),
  /** Alvaria's callback signing keys; several during a rotation. */
  callback_public_keys: z.array(pem).min(1, 'at least one public key is required').max(10),
  /** Optional: the `iss` and `aud` every callback token must carry, once Alvaria says what they are. */
  callback_issuer: z.string().trim().max(512).optional(),
  callback_audience: z.string().trim().max(512).optional(),
});
export type AlvariaConfig = z.output<typeof AlvariaConfigSchema>;

/** Nothing to keep: sessions live in their own table. */
export type AlvariaState = { connectedAt: number } | null;

/**
 * An attachment's URL is shown to Pipedrive users as a link: only http(s) is kept. Any other
 * scheme (`javascript:`, `data:`, `file:`) becomes `dropped` with the reason, so the callback
 * is still accepted (a 4xx would make Alvaria retry it for hours) and the text says why.
 */
export const AttachmentSchema = z.object({ type: z.string().max(64), url: z.string().max(4096) }).transform((a) =>
  isHttpUrl(a.url) ? a : { type: a.type, url: '', dropped: 'its link is not an http(s) URL' },
);

// Ids are capped at the 255 characters of the columns they are kept in (PostgreSQL refuses
// longer strings and NUL bytes: a 5xx Alvaria would retry for hours), and carry no control
// characters; an alias is a display name, cut to fit.
const id = platformId(255);
const alias = z.string().transform((s) => s.slice(0, 255));
const base = { sessionId: id, eventId: id };

export const CallbackSchema = z.union([
  z.object({ ...base, event: z.literal('NEW_SESSION'), status: z.enum(['SUCCESS', 'FAILED']), statusMessage: z.string().optional() }),
  z.object({ ...base, event: z.literal('AGENT_JOINED'), agentAlias: alias }),
  z.object({ ...base, event: z.literal('MESSAGE_STATUS'), status: z.string(), messageId: id, statusMessage: z.string().optional() }),
  z.object({ ...base, event: z.literal('SESSION_REROUTE'), agentAlias: alias.optional(), worktypeId: z.union([z.string(), z.number()]).optional() }),
  z.object({ ...base, event: z.literal('SESSION_END'), status: z.enum(['SUCCESS', 'FAILED']), from: z.string().optional() }),
  // MESSAGE has no `event` field: it is told apart by `message` and `senderId`.
  z.object({
    ...base,
    event: z.literal('MESSAGE').optional(),
    senderId: z.string(),
    message: z.object({ text: z.string().optional(), attachment: AttachmentSchema.optional() }),
  }),
]);
export type Callback = z.output<typeof CallbackSchema>;

/** The attachment type Alvaria expects for a MIME type. */
export function attachmentType(mimeType: string): 'Image' | 'Audio' | 'Video' | 'File' {
  const top = mimeType.toLowerCase().split('/')[0];
  if (top === 'image') return 'Image';
  if (top === 'audio') return 'Audio';
  if (top === 'video') return 'Video';
  return 'File';
}

const EXT_MIME: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  webm: 'video/webm',
  txt: 'text/plain',
};
const TYPE_MIME: Record<string, string> = { image: 'image/jpeg', audio: 'audio/mpeg', video: 'video/mp4' };

/** A MIME type and a file name for an attachment Alvaria sends (it gives only a type and a URL). */
export function describeAttachment(a: { type: string; url: string }): { name: string; mimeType: string } {
  let name = 'attachment';
  try {
    name = decodeURIComponent(new URL(a.url).pathname.split('/').filter(Boolean).pop() ?? '') || name;
  } catch {
    /* not a URL we can parse: keep the generic name */
  }
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  const mimeType = EXT_MIME[ext] ?? TYPE_MIME[a.type.toLowerCase()] ?? 'application/octet-stream';
  return { name: name.slice(0, 255), mimeType };
}
