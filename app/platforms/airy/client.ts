import type { AxiosInstance } from 'axios';
import type { IngestMessage, IngestMetadata } from './schema.ts';

export interface AiryChannelPayload {
  id: string;
  source: string;
  source_channel_id: string;
  connected: boolean;
  metadata: Record<string, unknown> | null;
}

export interface AirySourcePayload {
  source_id: string;
  token: string | null;
  action_endpoint: string | null;
  name: string | null;
  image_url: string | null;
}

/**
 * HTTP only: the Airy Source API. Every call is a JSON POST
 * with the token in `Authorization: Bearer …`, through the outbound policy's axios (checked
 * destination, total deadline, size cap). Failures surface as axios errors with the status
 * preserved; callers classify them (connect → PlatformError, send → app/ground/failures.ts).
 */
export class AiryClient {
  constructor(
    private readonly apiUrl: string,
    private readonly http: AxiosInstance,
  ) {}

  private async post<T>(path: string, token: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; data: T }> {
    const res = await this.http.post<T>(`${this.apiUrl}${path}`, body ?? {}, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      // Airy answers 200/201/202/204 for success depending on the endpoint; anything else throws.
      validateStatus: (s) => s >= 200 && s < 300,
      ...(signal ? { signal } : {}),
    });
    return { status: res.status, data: res.data };
  }

  /** System token only. 409 when the source id is taken (its token cannot be read back). */
  async createSource(systemToken: string, body: { source_id: string; action_endpoint: string; name: string; image_url?: string | null }) {
    return (await this.post<AirySourcePayload>('/sources.create', systemToken, body)).data;
  }

  /** System token. 404 when the source is unknown; `action_endpoint` must be sent (Airy answers 500 without it). */
  async updateSource(systemToken: string, body: { source_id: string; action_endpoint: string; name: string; image_url?: string | null }) {
    return (await this.post<AirySourcePayload>('/sources.update', systemToken, body)).data;
  }

  /** Source token. An upsert: the channel id is airyUuid(source_id + source_channel_id). */
  async createChannel(sourceToken: string, body: { name: string; source_channel_id: string; metadata?: Record<string, unknown> }) {
    return (await this.post<AiryChannelPayload>('/sources.channels.create', sourceToken, body)).data;
  }

  async disconnectChannel(sourceToken: string, channelId: string): Promise<void> {
    await this.post('/sources.channels.disconnect', sourceToken, { channel_id: channelId });
  }

  /** Source token. An idempotent upsert keyed by the derived ids; 200 with an empty body. */
  async ingest(sourceToken: string, body: { messages: IngestMessage[]; metadata: IngestMetadata[] }, signal?: AbortSignal): Promise<void> {
    await this.post('/sources.webhook', sourceToken, body, signal);
  }
}
