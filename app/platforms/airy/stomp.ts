/**
 * A minimal STOMP 1.2 frame codec (https://stomp.github.io/stomp-specification-1.2.html):
 * enough for a client that connects, subscribes and receives MESSAGE frames.
 */
export interface StompFrame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c');
const unescape = (v: string) => v.replace(/\\(\\|r|n|c)/g, (_m, c: string) => ({ '\\': '\\', r: '\r', n: '\n', c: ':' })[c]!);

export function encodeFrame(command: string, headers: Record<string, string> = {}, body = ''): string {
  // CONNECT headers are never escaped (spec §"Value Encoding").
  const enc = command === 'CONNECT' ? (v: string) => v : escape;
  const lines = Object.entries(headers).map(([k, v]) => `${enc(k)}:${enc(v)}`);
  return `${command}\n${lines.join('\n')}${lines.length ? '\n' : ''}\n${body}\0`;
}

/** One frame's text (between NULs) as a frame; heart-beat EOLs in front are skipped. */
function parseFrame(text: string): StompFrame | null {
  const raw = text.replace(/^(\r?\n)+/, '');
  if (!raw) return null;
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const [command = '', ...lines] = head.split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = unescape(line.slice(0, i));
    // The first occurrence of a repeated header wins (spec).
    if (!(k in headers)) headers[k] = unescape(line.slice(i + 1));
  }
  return { command: command.trim(), headers, body };
}

/**
 * Splits a stream of text into frames. Returns the frames complete so far and the rest to
 * keep for the next chunk. Bare EOLs between frames are heart-beats and are skipped.
 */
export function decodeFrames(buffer: string): { frames: StompFrame[]; rest: string } {
  const frames: StompFrame[] = [];
  let start = 0;
  for (;;) {
    const end = buffer.indexOf('\0', start);
    if (end < 0) break;
    const f = parseFrame(buffer.slice(start, end));
    if (f) frames.push(f);
    start = end + 1;
  }
  return { frames, rest: buffer.slice(start).replace(/^(\r?\n)+/, '') };
}

export class FrameTooLargeError extends Error {
  constructor(max: number) {
    super(`a STOMP frame grew past ${max} characters without ending`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * The streaming decoder the subscriber uses: each chunk is scanned once (the unfinished
 * frame is kept as pieces, never rescanned), and a frame longer than `maxFrameChars` is an
 * error, so a host that never ends a frame can neither grow memory nor burn CPU.
 */
export class StompDecoder {
  private pieces: string[] = [];
  private size = 0;

  constructor(private readonly maxFrameChars: number) {}

  push(chunk: string): StompFrame[] {
    const frames: StompFrame[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf('\0', start);
      if (end < 0) break;
      this.size += end - start;
      if (this.size > this.maxFrameChars) throw new FrameTooLargeError(this.maxFrameChars);
      this.pieces.push(chunk.slice(start, end));
      const f = parseFrame(this.pieces.join(''));
      this.pieces = [];
      this.size = 0;
      if (f) frames.push(f);
      start = end + 1;
    }
    const rest = chunk.slice(start);
    // Heart-beats between frames are not the start of one.
    if (rest && !(this.size === 0 && /^[\r\n]*$/.test(rest))) {
      this.pieces.push(rest);
      this.size += rest.length;
      if (this.size > this.maxFrameChars) throw new FrameTooLargeError(this.maxFrameChars);
    }
    return frames;
  }
}
