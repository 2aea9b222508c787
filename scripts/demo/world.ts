import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge, type Bridge } from '../../app/bridge.ts';
import { loadConfig } from '../../app/ground/config.ts';
import type { Job } from '../../app/store/jobs.ts';
import { FakeAiry } from '../../fakes/airy/index.ts';
import { FakeAlvaria } from '../../fakes/alvaria/server.ts';
import { startFakePipedrive, type FakePipedrive, type ReceivedMessage } from '../../fakes/pipedrive/server.ts';
import { BASIC, CLIENT_ID, CLIENT_SECRET } from '../../fakes/pipedrive/credentials.ts';
import { freePort } from '../lib/net.ts';
import { waitFor } from '../lib/wait-for.ts';

/** How long any one awaited event may take before its step counts as failed. */
export const STEP_TIMEOUT_MS = 15_000;

/** The app and the three fakes, all on 127.0.0.1, with a throwaway sqlite database. */
export interface World {
  bridge: Bridge;
  pipedrive: FakePipedrive;
  airy: FakeAiry;
  alvaria: FakeAlvaria;
  dir: string;
  stop(): Promise<void>;
}

/**
 * DEMO_HOST: where a browser reaches the demo. Unset → 127.0.0.1 (this machine only). An
 * address of this machine → the fake Pipedrive (whose sign-in page the browser visits) listens
 * there and every URL uses it; 0.0.0.0 → listen everywhere, URLs on the first external IPv4.
 */
export function demoHost(value: string | undefined): { host: string; publicHost: string } {
  const host = value?.trim() || '127.0.0.1';
  if (host !== '0.0.0.0' && host !== '::') return { host, publicHost: host.includes(':') ? `[${host}]` : host };
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return { host, publicHost: external?.address ?? '127.0.0.1' };
}

export async function startWorld(opts: { port?: number; logLevel?: string; host?: { host: string; publicHost: string } } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-demo-'));
  // Stopped in reverse order of starting, also when a later start fails.
  const stops: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const s of stops.reverse()) await s().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    const pipedrive = await startFakePipedrive(opts.host ? { listen: opts.host } : {});
    stops.push(() => pipedrive.close());
    const airy = await FakeAiry.start();
    stops.push(() => airy.close());
    const alvaria = await FakeAlvaria.start();
    stops.push(() => alvaria.stop());
    const port = opts.port ?? (await freePort());
    const config = loadConfig({
      PORT: String(port),
      APP_URL: `http://${opts.host?.publicHost ?? '127.0.0.1'}:${port}`,
      DATABASE_URL: `sqlite:${join(dir, 'demo.sqlite')}`,
      APP_SECRET: randomBytes(32).toString('hex'),
      PIPEDRIVE_CLIENT_ID: CLIENT_ID,
      PIPEDRIVE_CLIENT_SECRET: CLIENT_SECRET,
      PIPEDRIVE_OAUTH_URL: pipedrive.oauthUrl,
      PIPEDRIVE_API_URL: pipedrive.apiUrl,
      FILES_STORE: join(dir, 'files'),
      LOG_LEVEL: opts.logLevel ?? 'silent',
      // Snappy enough that each step shows its effect at once; the defaults suit production.
      WORKER_POLL_MS: '50',
      JOB_BACKOFF_BASE_MS: '50',
      JOB_BACKOFF_CAP_MS: '1000',
      LEADER_CHECK_MS: '200',
      // The platform fakes listen on loopback, which the outbound policy refuses unless allowed.
      OUTBOUND_ALLOW: '127.0.0.0/8',
      // The fake Pipedrive's host page frames the workspace pages; transcripts flush after 1 s idle.
      UI_FRAME_ANCESTORS: pipedrive.url,
      TRANSCRIPT_FLUSH_SECONDS: '1',
    });
    const bridge = await startBridge(config);
    stops.push(() => bridge.stop());
    return { bridge, pipedrive, airy, alvaria, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The Pipedrive side of postMessage: multipart with conversationId, message and files, basic auth. */
export async function pipedriveSends(w: World, providerChannelId: string, conversationId: string, text: string, files: Array<{ name: string; type: string; bytes: Uint8Array }> = []): Promise<string> {
  const form = new FormData();
  form.set('conversationId', conversationId);
  form.set('message', text);
  for (const f of files) form.append('files', new Blob([Buffer.from(f.bytes)], { type: f.type }), f.name);
  const res = await fetch(`${w.bridge.url}/api/channels/${encodeURIComponent(providerChannelId)}/messages`, { method: 'POST', headers: { authorization: BASIC }, body: form });
  const json = (await res.json()) as { data?: { id: string } };
  if (res.status !== 200 || !json.data) throw new Error(`postMessage answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data.id;
}

/** A manifest endpoint read as Pipedrive reads it (basic auth). getMessageById alone answers without the `data` envelope. */
export async function pipedriveGets<T>(w: World, path: string): Promise<T> {
  const res = await fetch(`${w.bridge.url}/api/channels${path}`, { headers: { authorization: BASIC } });
  if (res.status !== 200) throw new Error(`GET /api/channels${path} answered ${res.status}`);
  const json = (await res.json()) as { success?: boolean; data?: T };
  return json.success === true && json.data !== undefined ? json.data : (json as T);
}

/** Resolves once Pipedrive holds a message matching `match` (already there, or still to come). */
export async function pipedriveHolds(w: World, what: string, match: (m: ReceivedMessage) => boolean): Promise<ReceivedMessage> {
  const have = [...w.pipedrive.state.messages.values()].find(match);
  if (have) return have;
  try {
    return await w.pipedrive.next('message', match, STEP_TIMEOUT_MS);
  } catch {
    throw new Error(`timed out after ${STEP_TIMEOUT_MS / 1000} s waiting for Pipedrive to receive ${what}`);
  }
}

/** Resolves when the outbox finishes a job of `kind`. */
export async function jobDone(w: World, kind: string): Promise<Job> {
  try {
    const [job] = await waitFor<[Job]>(w.bridge.outbox, 'done', (j) => j.kind === kind, STEP_TIMEOUT_MS);
    return job;
  } catch {
    throw new Error(`timed out after ${STEP_TIMEOUT_MS / 1000} s waiting for the outbox to finish a ${kind} job`);
  }
}

/** `once` with the step timeout, so a missing event fails the step instead of hanging the demo. */
export async function nextEvent<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, what: string): Promise<T> {
  try {
    return (await once(emitter, event, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })) as T;
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new Error(`timed out after ${STEP_TIMEOUT_MS / 1000} s waiting for ${what}`);
    throw err;
  }
}

/**
 * For a promise made before the action it waits for: if the action fails first, nobody
 * awaits it, and its later timeout must not crash the process as an unhandled rejection.
 */
export function listening<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
