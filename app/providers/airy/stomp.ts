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

/**
 * Splits a stream of text into frames. Returns the frames complete so far and the rest to
 * keep for the next chunk. Bare EOLs between frames are heart-beats and are skipped.
 */
export function decodeFrames(buffer: string): { frames: StompFrame[]; rest: string } {
  const frames: StompFrame[] = [];
  let rest = buffer;
  for (;;) {
    rest = rest.replace(/^(\r?\n)+/, '');
    const end = rest.indexOf('\0');
    if (end < 0) break;
    const raw = rest.slice(0, end);
    rest = rest.slice(end + 1);
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
    frames.push({ command: command.trim(), headers, body });
  }
  return { frames, rest };
}
