import { isHttpUrl } from '../../ground/security/outbound-policy.ts';
import { fileNameOf, mimeFromKind, mimeFromName, UNKNOWN_MIME } from '../attachments.ts';

/**
 * What an Airy user sent (the `content` of /messages.send, any JSON) as our text and
 * attachments. Known shapes: a plain string, `{text}`, `{text, attachments:[{type,url,name,size}]}`
 * (what we write ourselves), and Messenger-style `{attachment:{type, payload:{url}}}`.
 */
export interface MappedContent {
  text: string;
  attachments: Array<{ name: string; mimeType: string; size: number | null; url: string }>;
}

function guessMime(kind: unknown, url: string, explicit: unknown): string {
  if (typeof explicit === 'string' && explicit.includes('/')) return explicit;
  if (typeof kind === 'string' && kind.includes('/')) return kind;
  return mimeFromName(fileNameOf(url) ?? '') ?? (typeof kind === 'string' ? mimeFromKind(kind) : undefined) ?? UNKNOWN_MIME;
}

function fileName(url: string, given: unknown): string {
  if (typeof given === 'string' && given.trim()) return given.trim();
  return fileNameOf(url) ?? 'file';
}

/** An attachment, `dropped` when its link is not http(s) (shown to users: no `javascript:`), or null when it is no attachment. */
function toAttachment(a: unknown): MappedContent['attachments'][number] | 'dropped' | null {
  if (!a || typeof a !== 'object') return null;
  const o = a as Record<string, unknown>;
  const payload = (o.payload && typeof o.payload === 'object' ? o.payload : {}) as Record<string, unknown>;
  const url = typeof o.url === 'string' ? o.url : typeof payload.url === 'string' ? payload.url : null;
  if (!url) return null;
  if (!isHttpUrl(url)) return 'dropped';
  const size = typeof o.size === 'number' && Number.isFinite(o.size) ? o.size : null;
  return { url, name: fileName(url, o.name ?? payload.name), mimeType: guessMime(o.type, url, o.mime_type), size };
}

export const DROPPED_ATTACHMENT = '[An attachment was dropped: its link is not an http(s) URL]';

export const UNSUPPORTED_CONTENT = '[This message from Airy has a format the bridge cannot show]';

export function mapContent(content: unknown): MappedContent {
  if (typeof content === 'string') return { text: content, attachments: [] };
  if (content && typeof content === 'object' && !Array.isArray(content)) {
    const o = content as Record<string, unknown>;
    const text = typeof o.text === 'string' ? o.text : '';
    const list = Array.isArray(o.attachments) ? o.attachments : o.attachment ? [o.attachment] : [];
    const mapped = list.map(toAttachment);
    const attachments = mapped.filter((a): a is MappedContent['attachments'][number] => a !== null && a !== 'dropped');
    const note = mapped.includes('dropped') ? DROPPED_ATTACHMENT : '';
    if (text || attachments.length || note) return { text: note ? `${text}${text ? '\n' : ''}${note}` : text, attachments };
  }
  return { text: UNSUPPORTED_CONTENT, attachments: [] };
}
