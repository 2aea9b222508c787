import { isAxiosError, type AxiosInstance } from 'axios';
import type { TokenClient } from './token-client.ts';

export interface NewSession {
  workTypeId: string;
  contactName: string;
  integration: string;
}

export interface OutgoingPart {
  text?: string;
  attachment?: { type: 'Image' | 'File' | 'Audio' | 'Video'; url: string };
}

/**
 * The Server Messaging endpoints under {api_url}/via/v2/organizations/{org}/serverMessaging.
 * Every call carries the Bearer token and `x-api-key`; a 401 refreshes the token once and
 * retries once (never a loop). Failures are thrown as axios errors with their status for
 * the caller to classify.
 */
export class AlvariaClient {
  private readonly base: string;
  private readonly apiKey: string;

  constructor(
    private readonly http: AxiosInstance,
    private readonly tokens: TokenClient,
    settings: { apiUrl: string; orgId: string; apiKey: string },
  ) {
    this.base = `${settings.apiUrl}/via/v2/organizations/${encodeURIComponent(settings.orgId)}/serverMessaging`;
    this.apiKey = settings.apiKey;
  }

  async createSession(body: NewSession, signal?: AbortSignal): Promise<string> {
    const data = await this.call<{ sessionId?: unknown }>('post', '/session', undefined, body, signal);
    if (typeof data?.sessionId !== 'string' || !data.sessionId) throw new Error('Alvaria answered Create Session without a sessionId');
    return data.sessionId;
  }

  async sendMessage(sessionId: string, part: OutgoingPart, signal?: AbortSignal): Promise<string> {
    const data = await this.call<{ messageId?: unknown }>('post', '/message', sessionId, part, signal);
    if (typeof data?.messageId !== 'string' || !data.messageId) throw new Error('Alvaria answered Send Message without a messageId');
    return data.messageId;
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.call('delete', '/session', sessionId);
  }

  private async call<T>(method: 'post' | 'delete', path: string, sessionId: string | undefined, body?: unknown, signal?: AbortSignal): Promise<T> {
    const attempt = async (token: string) => {
      const res = await this.http.request<T>({
        ...(signal ? { signal } : {}),
        method,
        url: `${this.base}${path}`,
        data: body,
        headers: {
          authorization: `Bearer ${token}`,
          'x-api-key': this.apiKey,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(sessionId ? { 'server-messaging-session-id': sessionId } : {}),
        },
      });
      return res.data;
    };
    const token = await this.tokens.get();
    try {
      return await attempt(token);
    } catch (err) {
      if (!isAxiosError(err) || err.response?.status !== 401) throw err;
      this.tokens.invalidate(token);
      return attempt(await this.tokens.get());
    }
  }
}
