import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import axios, { AxiosError, isAxiosError, type AxiosAdapter, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/**
 * The one outbound policy for every call to a tenant-named host (platform APIs, token
 * endpoints, the Airy WebSocket). Anyone who installs the app can name such a host, so the
 * server must not become their way into its own network (OWASP SSRF prevention cheat sheet,
 * https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html):
 *
 * - only public unicast addresses are called: loopback, RFC 1918, link-local, CGNAT,
 *   unique-local, unspecified, multicast, reserved and the IPv6 forms that embed IPv4
 *   (mapped, NAT64, 6to4, Teredo) are refused unless the operator's `OUTBOUND_ALLOW` names
 *   the host or a CIDR that contains the address;
 * - the check runs on the address the socket actually connects to (a `lookup` hook on the
 *   agents), every time a connection is made, so DNS rebinding between a check and the
 *   connection is not possible; IP literals (which skip DNS) are checked per request;
 * - every call has a total deadline that holds while bytes trickle in, and a response size cap.
 */
export interface OutboundPolicyOptions {
  /** OUTBOUND_ALLOW entries: host names and CIDRs (a bare address is a /32 or /128). */
  allow: readonly string[];
  /** Largest response body read from a platform, in bytes. */
  maxResponseBytes: number;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Refused by policy before any connection was made. */
export class OutboundRefusedError extends Error {
  readonly code = 'EOUTBOUND_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

/** Did the policy refuse this call's destination (before any connection was made)? */
export function refusedByPolicy(err: unknown): boolean {
  return err instanceof OutboundRefusedError || (isAxiosError(err) && (err.cause instanceof OutboundRefusedError || err.code === 'EOUTBOUND_REFUSED'));
}

/**
 * A URL setting (a platform address the admin entered) whose host the policy refuses. It is
 * the admin's input to correct, not an outage: an adapter throws it at connect naming its
 * setting, and the connect flow answers it as that field's error. The message is for the
 * admin: plain words, no address and nothing of the server's own configuration.
 */
export class RefusedSettingError extends Error {
  constructor(readonly setting: string) {
    super("This address is on a private or internal network, which this server does not call. Enter the platform's public address, or ask whoever runs this server to allow it.");
    this.name = 'RefusedSettingError';
  }
}

/** Parses OUTBOUND_ALLOW; throws with the offending entry. */
export function parseAllowList(entries: readonly string[]): { hosts: Set<string>; cidrs: Cidr[] } {
  const hosts = new Set<string>();
  const cidrs: Cidr[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry.includes('/')) {
      cidrs.push(ipaddr.parseCIDR(entry));
    } else if (ipaddr.isValid(entry.replace(/^\[|\]$/g, ''))) {
      const addr = ipaddr.parse(entry.replace(/^\[|\]$/g, ''));
      cidrs.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      hosts.add(entry.replace(/\.$/, ''));
    } else {
      throw new Error(`"${raw}" is neither a host name nor a CIDR`);
    }
  }
  return { hosts, cidrs };
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address for every purpose here. */
function normalize(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!ipaddr.isValid(address)) return null;
  const a = ipaddr.parse(address);
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

export class OutboundPolicy {
  readonly maxResponseBytes: number;
  private readonly hosts: Set<string>;
  private readonly cidrs: Cidr[];
  readonly lookup: LookupFunction;
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;

  constructor(opts: OutboundPolicyOptions) {
    const { hosts, cidrs } = parseAllowList(opts.allow);
    this.hosts = hosts;
    this.cidrs = cidrs;
    this.maxResponseBytes = opts.maxResponseBytes;
    this.lookup = this.makeLookup();
    // keepAlive reuses a socket only for the address its own lookup checked.
    this.httpAgent = new HttpAgent({ keepAlive: true, lookup: this.lookup });
    this.httpsAgent = new HttpsAgent({ keepAlive: true, lookup: this.lookup });
  }

  /** May a connection to `address` be made for `hostname`? */
  permits(hostname: string, address: string): boolean {
    if (this.hosts.has(hostname.toLowerCase().replace(/\.$/, ''))) return true;
    const a = normalize(address);
    if (!a) return false;
    for (const [net, bits] of this.cidrs) if (net.kind() === a.kind() && a.match(net, bits)) return true;
    return a.range() === 'unicast';
  }

  /**
   * Checks a URL before a request: http(s) only, no credentials in it, and an IP literal
   * must be permitted here because Node connects to literals without calling `lookup`.
   */
  assertUrl(url: string | URL): URL {
    const u = typeof url === 'string' ? new URL(url) : url;
    if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new OutboundRefusedError('only http(s) URLs are called');
    if (u.username || u.password) throw new OutboundRefusedError('URLs with credentials are not called');
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.permits(host, host)) throw refused();
    return u;
  }

  private makeLookup(): LookupFunction {
    return (hostname: string, options: LookupOptions, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const ok = addresses.filter((a) => this.permits(hostname, a.address));
        if (!ok.length) return callback(refused(), '', 0);
        if (options.all) callback(null, ok);
        else callback(null, ok[0]!.address, ok[0]!.family);
      });
    };
  }

  /**
   * An axios instance bound to this policy: checked destination, pinned address, no
   * redirects, a total deadline per call (`timeoutMs`, covering headers and body) and the
   * response size cap.
   */
  http(opts: { timeoutMs: number; headers?: Record<string, string> }): AxiosInstance {
    return deadlineAxios({
      timeoutMs: opts.timeoutMs,
      maxBytes: this.maxResponseBytes,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      check: (url) => this.assertUrl(url),
      ...(opts.headers ? { headers: opts.headers } : {}),
    });
  }
}

const refused = () =>
  new OutboundRefusedError('the host resolves to a private, loopback or otherwise internal address, which this server does not call (the operator can allow it with OUTBOUND_ALLOW)');

const DEADLINE = Symbol('deadline');

/** One call's deadline: a timer that aborts `controller`, and the caller's own signal forwarded to it. */
class Deadline {
  readonly controller = new AbortController();
  expired = false;
  private readonly timer: NodeJS.Timeout;
  private readonly forward = () => this.controller.abort();

  constructor(
    ms: number,
    private readonly caller: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, ms);
    this.timer.unref();
    if (caller?.aborted) this.controller.abort();
    else caller?.addEventListener('abort', this.forward, { once: true });
  }

  end(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.forward);
  }
}

const deadlineOf = (config: unknown) => (config as Record<symbol, Deadline | undefined> | undefined)?.[DEADLINE];

/**
 * axios with a total deadline: axios's own `timeout` stops counting once headers arrive, so
 * a host sending one byte every few seconds would hold the call forever. A timer aborting the
 * call's signal covers the whole exchange; its expiry surfaces as ETIMEDOUT. (A timer and a
 * forwarded listener, ended with the call, rather than AbortSignal.timeout and
 * AbortSignal.any: with a caller's signal, as every outbox call has, those cost ~0.025 ms more
 * CPU per call, and the outbox calls Pipedrive once per delivered message.)
 */
export function deadlineAxios(o: {
  timeoutMs: number;
  maxBytes: number;
  httpAgent?: HttpAgent;
  httpsAgent?: HttpsAgent;
  headers?: Record<string, string>;
  check?: (url: string) => unknown;
  /** Another transport (app/ground/http-transport.ts) for hosts no tenant names: it bypasses the agents. */
  adapter?: AxiosAdapter;
}): AxiosInstance {
  if (o.adapter && (o.httpAgent || o.httpsAgent)) throw new Error('deadlineAxios: a custom adapter would bypass the outbound policy agents');
  const http = axios.create({
    timeout: o.timeoutMs,
    maxRedirects: 0,
    maxContentLength: o.maxBytes,
    maxBodyLength: o.maxBytes * 4,
    ...(o.httpAgent ? { httpAgent: o.httpAgent } : {}),
    ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
    ...(o.adapter ? { adapter: o.adapter } : {}),
  });
  http.interceptors.request.use((config: InternalAxiosRequestConfig) => {
    if (o.check) o.check(http.getUri(config));
    const deadline = new Deadline(o.timeoutMs, config.signal as AbortSignal | undefined);
    (config as unknown as Record<symbol, Deadline>)[DEADLINE] = deadline;
    config.signal = deadline.controller.signal;
    return config;
  });
  http.interceptors.response.use(
    (res) => {
      // A streamed body is still arriving: its deadline runs on, as the whole exchange's.
      if (res.config.responseType !== 'stream') deadlineOf(res.config)?.end();
      return res;
    },
    (err: unknown) => {
      const deadline = isAxiosError(err) ? deadlineOf(err.config) : undefined;
      deadline?.end();
      if (isAxiosError(err) && !err.response) {
        if (err.code === AxiosError.ERR_CANCELED && deadline?.expired) {
          throw new AxiosError(`no complete answer within ${o.timeoutMs} ms`, 'ETIMEDOUT', err.config, err.request);
        }
        if (/maxContentLength/.test(err.message)) throw new AxiosError(`the answer was larger than ${o.maxBytes} bytes`, 'ERESPONSETOOLARGE', err.config, err.request);
      }
      throw err;
    },
  );
  return http;
}

/** Why an outbound call failed, in words safe for an admin (no body, no address, no port state). */
export function outboundFailure(err: unknown): { status: number | undefined; message: string } {
  if (err instanceof OutboundRefusedError) return { status: undefined, message: err.message };
  if (isAxiosError(err)) {
    if (refusedByPolicy(err)) return { status: undefined, message: refused().message };
    const status = err.response?.status;
    if (status) return { status, message: `HTTP ${status}` };
    if (err.code === 'ERESPONSETOOLARGE') return { status: undefined, message: err.message };
  }
  // Refused, reset, unknown host, not HTTP, silent or too slow: one message, so the answer
  // tells nothing about which ports are open (the log has the code).
  return { status: undefined, message: NO_ANSWER };
}

export const NO_ANSWER = 'the host did not answer in time or could not be reached';

/** A platform's error body for the log only: cut short, never shown to anyone. */
export function bodyForLog(err: unknown, max = 500): string | undefined {
  if (!isAxiosError(err) || !err.response) return undefined;
  const data = err.response.data;
  const text =
    typeof data === 'string'
      ? data
      : (() => {
          try {
            return JSON.stringify(data ?? '');
          } catch {
            return '';
          }
        })();
  return text.slice(0, max);
}

/**
 * A platform URL as an admin may enter it: http(s), no credentials, no fragment, and for a
 * base URL (the app appends paths) no query either, since `?` or `#` would swallow the path
 * and let the admin pick any path on the host. Trailing slashes are dropped.
 */
export function platformUrl(kind: 'base' | 'full') {
  return z
    .string()
    .trim()
    .max(2048)
    .superRefine((v, ctx) => {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
        return;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
      else if (u.username || u.password) ctx.addIssue({ code: 'custom', message: 'must not contain a user name or password' });
      else if (v.includes('#')) ctx.addIssue({ code: 'custom', message: 'must not contain a fragment (#)' });
      else if (kind === 'base' && v.includes('?')) ctx.addIssue({ code: 'custom', message: 'must not contain a query (?): the app appends paths to it' });
    })
    .transform((v) => v.replace(/\/+$/, ''));
}

/** True for an absolute http(s) URL (links shown to users: no `javascript:`, `data:`…). */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
