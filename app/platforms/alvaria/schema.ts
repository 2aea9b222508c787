import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { isHttpUrl, platformUrl } from '../../ground/security/outbound-policy.ts';
import { platformId } from '../../ground/security/input.ts';
import { attachmentKind, fileNameOf, mimeFromKind, mimeFromName, UNKNOWN_MIME } from '../attachments.ts';

/**
 * Shapes of the Alvaria Server Messaging API v2 (https://via-api-documentation.s3.amazonaws.com/):
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

/**
 * What the admin enters per channel. The `.meta()` texts are the admin page's label, hint,
 * placeholder and password flag for each field.
 */
export const AlvariaConfigSchema = z.object({
  /** Like https://{org}.via.aspect-cloud.net; the app appends /via/v2/organizations/{org_id}/serverMessaging/… */
  api_url: platformUrl('base').meta({
    title: 'API base URL',
    description: "Your organisation's Alvaria Cloud address, without a path; the bridge appends /via/v2/organizations/{organisation id}/serverMessaging/….",
    placeholder: 'https://yourorg.via.aspect-cloud.net',
    secret: false,
  }),
  /** The full token URL (hosts differ per region); nothing is appended, so a query (realm) may stay. */
  token_url: platformUrl('full').meta({
    title: 'Token URL',
    description: 'The full OAuth token address for your region, as given with the client credentials by Alvaria Customer Care.',
    placeholder: 'https://idp.example.aspect-cloud.net/oauth2/token',
    secret: false,
  }),
  org_id: z.string().trim().min(1).max(255).meta({
    title: 'Organisation id',
    description: 'Your Alvaria organisation (tenant) id, the {org} part of your Alvaria Cloud address.',
    placeholder: 'yourorg',
    secret: false,
  }),
  client_id: z.string().trim().min(1).meta({
    title: 'Client id',
    description: 'The OAuth client id of the custom server application Alvaria set up for you.',
    placeholder: 'client id',
    secret: false,
  }),
  client_secret: z.string().min(1).meta({ title: 'Client secret', description: 'The OAuth client secret that belongs to the client id.', placeholder: 'paste the client secret', secret: true }),
  api_key: z.string().trim().min(1).meta({
    title: 'API key',
    description: 'The x-api-key of the Server Messaging API, from the same custom server application.',
    placeholder: 'paste the API key',
    secret: true,
  }),
  work_type_id: z
    .union([z.string().trim().min(1), z.number().int()])
    .transform(String)
    .meta({
      title: 'Work type id',
      description: 'The id of the work type (queue) that new conversations are routed to; your Alvaria administrator has it.',
      placeholder: '1234',
      secret: false,
    }),
  /** Alvaria's callback signing keys; several during a rotation. */
  callback_public_keys: z.array(pem).min(1, 'at least one public key is required').max(10).meta({
    title: 'Callback public keys',
    description: 'The PEM public key(s) Alvaria signs its callbacks with, from Alvaria Customer Care. Paste each block including the BEGIN and END lines; several during a key rotation.',
    placeholder: '-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----',
    secret: false,
  }),
  /** Optional: the `iss` and `aud` every callback token must carry, once Alvaria says what they are. */
  callback_issuer: z
    .string()
    .trim()
    .max(512)
    .optional()
    .meta({ title: 'Callback issuer', description: 'The iss claim every callback token must carry, once Alvaria tells you; leave empty otherwise.', secret: false }),
  callback_audience: z
    .string()
    .trim()
    .max(512)
    .optional()
    .meta({ title: 'Callback audience', description: 'The aud claim every callback token must carry, once Alvaria tells you; leave empty otherwise.', secret: false }),
});
export type AlvariaConfig = z.output<typeof AlvariaConfigSchema>;

/** Nothing to keep: sessions live in their own table. */
export type AlvariaState = { connectedAt: number } | null;

/**
 * An attachment's URL is shown to Pipedrive users as a link: only http(s) is kept. Any other
 * scheme (`javascript:`, `data:`, `file:`) becomes `dropped` with the reason, so the callback
 * is still accepted (a 4xx would make Alvaria retry it for hours) and the text says why.
 */
export const AttachmentSchema = z
  .object({ type: z.string().max(64), url: z.string().max(4096) })
  .transform((a) => (isHttpUrl(a.url) ? a : { type: a.type, url: '', dropped: 'its link is not an http(s) URL' }));

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

const ALVARIA_TYPE = { image: 'Image', audio: 'Audio', video: 'Video', file: 'File' } as const;

/** The attachment type Alvaria expects for a MIME type. */
export function attachmentType(mimeType: string): 'Image' | 'Audio' | 'Video' | 'File' {
  return ALVARIA_TYPE[attachmentKind(mimeType)];
}

/** A MIME type and a file name for an attachment Alvaria sends (it gives only a type and a URL). */
export function describeAttachment(a: { type: string; url: string }): { name: string; mimeType: string } {
  const name = fileNameOf(a.url) ?? 'attachment';
  const mimeType = mimeFromName(name) ?? mimeFromKind(a.type) ?? UNKNOWN_MIME;
  return { name: name.slice(0, 255), mimeType };
}
