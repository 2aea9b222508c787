/**
 * Attachment facts every platform needs: the coarse kind platforms file an attachment under
 * (image, video, audio, anything else), and a MIME type and file name for an attachment a
 * platform sends with only a URL and perhaps a kind. One place, so both platforms guess alike.
 */

export type AttachmentKind = 'image' | 'video' | 'audio' | 'file';

/** The coarse kind of a MIME type (its top-level type; anything but image/video/audio is a file). */
export function attachmentKind(mimeType: string): AttachmentKind {
  const top = mimeType.toLowerCase().split('/')[0];
  return top === 'image' || top === 'video' || top === 'audio' ? top : 'file';
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

const KIND_MIME: Record<string, string> = { image: 'image/jpeg', video: 'video/mp4', audio: 'audio/mpeg' };

export const UNKNOWN_MIME = 'application/octet-stream';

/** The MIME type of a common file extension (`photo.JPG` → image/jpeg); undefined for others or none. */
export function mimeFromName(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : EXT_MIME[name.slice(dot + 1).toLowerCase()];
}

/** A generic MIME type for a coarse kind a platform names (`image`, `Video`, …); undefined for `file` and unknown kinds. */
export function mimeFromKind(kind: string): string | undefined {
  return KIND_MIME[kind.toLowerCase()];
}

/** The last non-empty segment of a URL's path, decoded; undefined when there is none or the URL does not parse. */
export function fileNameOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || undefined;
  } catch {
    return undefined;
  }
}
