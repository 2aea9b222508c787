import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';
import axios, { AxiosError, AxiosHeaders, CanceledError, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { Agent, request } from 'undici';

/**
 * An axios adapter that sends through undici (https://undici.nodejs.org, Node's own HTTP
 * client) instead of axios's node:http adapter. The official pipedrive SDK and our axios
 * instance stay as they are (interceptors, errors, the deadline); only the wire changes. Why:
 * the outbox calls Pipedrive's receive endpoint once per delivered message, and that call cost
 * the calling process 0.29–0.36 ms of CPU through axios's http adapter; through this one it
 * costs 0.21–0.27 ms, of which undici's request is ~0.06 ms and the SDK and axios the rest
 * (npm run bench, section (d)).
 *
 * What the app's calls use, and nothing more: string or binary bodies (the SDK and
 * transformRequest serialise JSON and forms), `responseType` json/text/arraybuffer,
 * `validateStatus`, `signal` (the deadline of deadlineAxios rides on it), `maxContentLength`
 * and `maxBodyLength`. It has no proxy or redirect support (the app's instances follow no
 * redirects) and no outbound policy: hosts that tenants name go through the policy's agents
 * and axios's own adapter, never through this one.
 */
export function undiciAdapter(dispatcher: Agent = new Agent({ keepAliveTimeout: 4_000 })): AxiosAdapter {
  return async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    if (config.responseType && !['json', 'text', 'arraybuffer'].includes(config.responseType)) {
      throw new AxiosError(`responseType ${config.responseType} is not supported by this transport`, AxiosError.ERR_NOT_SUPPORT, config);
    }
    // The SDK sends absolute URLs; getUri (a full config merge) only when axios has to build one.
    const url = config.baseURL || config.params ? axios.getUri(config) : String(config.url);
    const body = requestBody(config);
    const headers = AxiosHeaders.from(config.headers).toJSON(true) as Record<string, string | string[]>;
    // Without Accept-Encoding a server may pick any coding (RFC 9110 §12.5.3): ask for none,
    // and still decode the three Node can if one comes anyway.
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = 'identity';
    // What the error and response carry as their `request`: never the headers (the bearer token).
    const sent = { method: (config.method ?? 'get').toUpperCase(), url };
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        dispatcher,
        method: sent.method as 'GET',
        headers,
        body,
        ...(config.signal ? { signal: config.signal } : {}),
      });
    } catch (err) {
      throw failed(err, config, sent);
    }
    let data: Buffer;
    try {
      data = await readCapped(decoded(res.body, res.headers['content-encoding']), config.maxContentLength ?? -1);
    } catch (err) {
      res.body.destroy();
      if (err instanceof AxiosError) {
        err.config = config;
        throw err;
      }
      throw failed(err, config, sent);
    }
    const type = config.responseType ?? 'json';
    const response: AxiosResponse = {
      data: type === 'arraybuffer' ? data : data.toString('utf8'),
      status: res.statusCode,
      statusText: '',
      headers: new AxiosHeaders(res.headers as Record<string, string>),
      config,
      request: sent,
    };
    const valid = config.validateStatus;
    if (!valid || valid(res.statusCode)) return response;
    throw new AxiosError(`Request failed with status code ${res.statusCode}`, res.statusCode >= 500 ? AxiosError.ERR_BAD_RESPONSE : AxiosError.ERR_BAD_REQUEST, config, sent, response);
  };
}

function requestBody(config: InternalAxiosRequestConfig): string | Buffer | undefined {
  const data: unknown = config.data;
  if (data === undefined || data === null) return undefined;
  const body = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data : data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : undefined;
  if (body === undefined) throw new AxiosError('this transport sends string or binary bodies only', AxiosError.ERR_NOT_SUPPORT, config);
  const max = config.maxBodyLength ?? -1;
  if (max > -1 && Buffer.byteLength(body) > max) throw new AxiosError('Request body larger than maxBodyLength limit', AxiosError.ERR_BAD_REQUEST, config);
  return body;
}

/**
 * The answer's bytes, decoded. `pipeline` (not `pipe`) so that an aborted or broken answer
 * destroys the decoder with its error: with `pipe` a deadline that cut the answer left the
 * decoder waiting for an end that never came, and the call never settled.
 */
function decoded(body: Readable, encoding: string | string[] | undefined): Readable {
  const coding = String(encoding ?? '')
    .trim()
    .toLowerCase();
  const decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (!decoder) return body;
  pipeline(body, decoder, () => {});
  return decoder;
}

/** The whole answer, or an error (axios's own wording, which deadlineAxios maps) once it passes `max` bytes. */
async function readCapped(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (max > -1 && size > max) {
      stream.destroy();
      throw new AxiosError(`maxContentLength size of ${max} exceeded`, AxiosError.ERR_BAD_RESPONSE);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** An aborted call as axios reports one (deadlineAxios turns its own deadline into ETIMEDOUT); anything else keeps its code. */
function failed(err: unknown, config: InternalAxiosRequestConfig, sent: object): AxiosError {
  if ((config.signal as AbortSignal | undefined)?.aborted) return new CanceledError(undefined, config, sent);
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.cause?.code ?? e.code;
  return new AxiosError(e.message ?? String(err), code, config, sent);
}
