import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface Res {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  redirect?: string;
}

export async function readReq(req: IncomingMessage): Promise<Req> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const url = new URL(req.url ?? '/', 'http://fake');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
}

export function send(res: ServerResponse, r: Res): void {
  const headers: Record<string, string> = { ...r.headers };
  if (r.redirect) headers.location = r.redirect;
  let payload = '';
  if (r.body !== undefined) {
    payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    headers['content-type'] ??= typeof r.body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

export function basicCredentials(header: string | undefined): string | null {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : null;
}

export function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m ? m[1]! : null;
}

export function json(req: Req): unknown {
  if (!/^application\/json/i.test(req.headers['content-type'] ?? '')) return undefined;
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function form(req: Req): URLSearchParams | undefined {
  if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) return undefined;
  return new URLSearchParams(req.body.toString('utf8'));
}
