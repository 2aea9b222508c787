/**
 * Section (d): what one call to Pipedrive's receive endpoint costs the CPU of the process making
 * it, by HTTP client, against a sink in the bench process: node:http with a keep-alive agent,
 * Node's fetch, undici's request (what the app's axios instance sends through,
 * app/ground/http-transport.ts), and the official pipedrive SDK over the app's axios instance
 * (what app/pipedrive/client.ts does per call, without its token and pacing bookkeeping). The
 * calls run in a child process, 10 in flight like the outbox's slots; each client runs three
 * rounds, alternating with the others, and the median round counts. No target: it says how
 * much of a message's CPU the delivery's HTTP call is.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { v1 } from 'pipedrive';
import { request as undiciRequest } from 'undici';
import { pipedriveAxios } from '../../app/pipedrive/oauth-client.ts';
import { startPipedriveSink } from './client.ts';
import type { BenchOptions } from './options.ts';

export interface HttpClientRun {
  client: string;
  /** CPU (user + system) of the calling process per call. */
  cpuMsPerCall: number;
  callsPerSecond: number;
}

const CLIENTS = ['node:http (keep-alive agent)', 'fetch', 'undici request (the app’s transport)', 'pipedrive SDK over the app’s axios (the app’s client)'] as const;
const IN_FLIGHT = 10;
const ROUNDS = 3;

/** A receive body as the outbox sends one (app/pipedrive/client.ts, ReceiveMessageBody). */
const BODY = {
  id: 'msg_0123456789abcdef',
  channel_id: 'pd-channel',
  sender_id: 'participant-1',
  conversation_id: 'conversation-1',
  message: 'Thanks for reaching out! Could you send the signed quote and the delivery address? We can ship on Monday.',
  status: 'sent',
  created_at: '2026-12-03T01:00:00.000Z',
  attachments: [],
};

async function callerLoop(base: string, calls: number): Promise<HttpClientRun[]> {
  const agent = new Agent({ keepAlive: true });
  const payload = JSON.stringify(BODY);
  const url = `${base}/v1/channels/messages/receive`;
  const http = pipedriveAxios();
  const once: Record<(typeof CLIENTS)[number], () => Promise<void>> = {
    [CLIENTS[0]]: () =>
      new Promise<void>((resolve, reject) => {
        const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: 'Bearer bench', 'content-length': Buffer.byteLength(payload) } }, (res) => {
          res.resume();
          res.once('end', resolve);
        });
        req.once('error', reject);
        req.end(payload);
      }),
    [CLIENTS[1]]: async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer bench' }, body: payload });
      await res.arrayBuffer();
    },
    [CLIENTS[2]]: async () => {
      const res = await undiciRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer bench' }, body: payload });
      await res.body.arrayBuffer();
    },
    [CLIENTS[3]]: async () => {
      const basePath = `${base}/v1`;
      const fn = (await v1.ChannelsApiFp(new v1.Configuration({ accessToken: 'bench', basePath })).receiveMessage(BODY as never)) as unknown as (axios: unknown, basePath: string) => Promise<unknown>;
      await fn(http, basePath);
    },
  };
  const rounds = new Map<string, HttpClientRun[]>(CLIENTS.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const client of CLIENTS) {
      const call = once[client];
      for (let i = 0; i < Math.min(300, calls); i++) await call();
      const cpu = process.cpuUsage();
      const started = performance.now();
      let left = calls;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (left-- > 0) await call();
        }),
      );
      const used = process.cpuUsage(cpu);
      const seconds = (performance.now() - started) / 1000;
      rounds.get(client)!.push({ client, cpuMsPerCall: Math.round(((used.user + used.system) / 1000 / calls) * 1000) / 1000, callsPerSecond: Math.round(calls / seconds) });
    }
  }
  agent.destroy();
  return CLIENTS.map((c) => rounds.get(c)!.sort((a, b) => a.cpuMsPerCall - b.cpuMsPerCall)[Math.floor(ROUNDS / 2)]!);
}

export async function runHttpClients(opts: BenchOptions, log: (s: string) => void): Promise<HttpClientRun[]> {
  const sink = await startPipedriveSink();
  try {
    const base = sink.url;
    const child = fork(fileURLToPath(import.meta.url), ['caller', base, String(opts.quick ? 1000 : 3000)], { execArgv: ['--import', 'tsx'] });
    const runs = await new Promise<HttpClientRun[]>((resolve, reject) => {
      child.once('message', (m) => resolve(m as HttpClientRun[]));
      child.once('exit', (code) => reject(new Error(`the calling process exited (code ${code}) before reporting`)));
    });
    child.kill();
    for (const r of runs) log(`  ${r.client}: ${r.cpuMsPerCall} ms of CPU per call, ${r.callsPerSecond} calls/s`);
    return runs;
  } finally {
    sink.server.closeAllConnections();
    sink.server.close();
  }
}

if (process.argv[2] === 'caller') {
  const runs = await callerLoop(process.argv[3]!, Number(process.argv[4]));
  process.send!(runs);
}
