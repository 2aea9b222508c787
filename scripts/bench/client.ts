/**
 * Starts a server under test (scripts/bench/server.ts) in its own process on a fresh
 * database, and talks to it over IPC. A PostgreSQL schema made for it is dropped on close.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import knex from 'knex';
import type { Dialect } from './options.ts';
import type { ReadyMessage, RequestName, Requests, ResponseMessage } from './protocol.ts';
import { pgReachable } from '../lib/pg.ts';
export { pgReachable };

export interface ServerUnderTest {
  ready: ReadyMessage;
  dialect: Dialect;
  request<K extends RequestName>(name: K, args: Requests[K]['args']): Promise<Requests[K]['result']>;
  /** Runs `fn` with a CPU profile of the server around it when `path` is set (BENCH_CPU_PROF=1). */
  profiled<T>(path: string | undefined, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const live = new Set<ServerUnderTest>();

/** Stops every server still running and drops its schema (Ctrl-C in the middle of a section). */
export async function closeAll(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.close()));
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    await db.raw('drop schema if exists ?? cascade', [schema]);
  } finally {
    await db.destroy();
  }
}

/**
 * Pipedrive's receive endpoint as far as the server under test can tell: reads the body, answers
 * 200 with a small JSON. It runs in the bench process, so its CPU is not the server's.
 */
export async function startPipedriveSink(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"success":true,"data":{"ok":true}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

export async function startServer(dialect: Dialect, opts: { pgUrl: string; env?: Record<string, string> }): Promise<ServerUnderTest> {
  const schema = dialect === 'postgres' ? `bench_${randomBytes(5).toString('hex')}` : '';
  const execArgv = ['--expose-gc', '--import', 'tsx'];
  const sink = await startPipedriveSink();
  const child: ChildProcess = spawn(process.execPath, [...execArgv, 'scripts/bench/server.ts'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      BENCH_DATABASE_URL: dialect === 'postgres' ? opts.pgUrl : '',
      BENCH_DATABASE_SCHEMA: schema,
      BENCH_PIPEDRIVE_URL: sink.url,
      ...opts.env,
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let ready: ReadyMessage | undefined;
  const readyPromise = new Promise<ReadyMessage>((resolve, reject) => {
    child.on('message', (msg: ReadyMessage | ResponseMessage) => {
      if (msg.type === 'ready') {
        ready = msg;
        resolve(msg);
        return;
      }
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`server: ${msg.error}`));
    });
    void exited.then((code) => {
      const err = new Error(`the server under test exited (code ${code})`);
      if (!ready) reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  });

  try {
    await readyPromise;
  } catch (err) {
    sink.server.close();
    if (schema) await dropSchema(opts.pgUrl, schema);
    throw err;
  }
  let closing: Promise<void> | undefined;
  const server: ServerUnderTest = {
    ready: ready!,
    dialect,
    request(name, args) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (!child.connected) return reject(new Error('the server under test is gone'));
        pending.set(id, { resolve, reject });
        child.send({ type: 'request', id, name, args }, (err) => {
          if (!err) return;
          pending.delete(id);
          reject(err);
        });
      });
    },
    async profiled(path, fn) {
      if (!path) return fn();
      await server.request('profile-start', {});
      try {
        return await fn();
      } finally {
        await server.request('profile-stop', { path });
      }
    },
    close() {
      live.delete(server);
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          await server.request('stop', {}).catch(() => {});
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        sink.server.closeAllConnections();
        sink.server.close();
        if (schema) await dropSchema(opts.pgUrl, schema);
      })();
      return closing;
    },
  };
  live.add(server);
  return server;
}
