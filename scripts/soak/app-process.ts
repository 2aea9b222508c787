import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './util.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Sum of a metric's samples whose labels match every given value (a RegExp tests it). */
export function sumOf(samples: Sample[], name: string, match: Record<string, string | RegExp> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? '')))).reduce((a, s) => a + s.value, 0);
}

const ROOT = join(import.meta.dirname, '..', '..');

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * The bridge as a real child process (`node --import tsx app/main.ts`), the way it runs in
 * production, so SIGKILL means what it means there. Logs go to `logFile` (appended across
 * restarts); the same env is used at every start, so a restart lands on the same database,
 * port and secrets.
 */
export class AppProcess {
  /** Every process started and not yet reaped, so the runner can kill them if it must bail out. */
  static readonly running = new Set<AppProcess>();
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;
  kills = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once /healthz answers 200 (migrations done, port bound). */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.starts++;
    AppProcess.running.add(this);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) AppProcess.running.delete(this);
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`${this.name} exited during start (code ${child.exitCode}, signal ${child.signalCode}); see ${this.logFile}`);
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not become healthy within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(50);
    }
  }

  /** Last resort for the runner: SIGKILL every child still running, synchronously. */
  static killAll(): void {
    for (const p of AppProcess.running) p.child?.kill('SIGKILL');
  }

  /** SIGKILL, no goodbye: whatever was in flight is cut off. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.kills++;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the graceful path), SIGKILL if it hangs. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Resident set size of the process now, in bytes (Linux /proc; null elsewhere). */
  rssBytes(): number | null {
    if (!this.alive) return null;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child!.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** User + system CPU time of the process so far, in ms (Linux /proc; null elsewhere). */
  cpuMs(): number | null {
    if (!this.alive) return null;
    try {
      const stat = readFileSync(`/proc/${this.child!.pid}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const utime = Number(fields[11]);
      const stime = Number(fields[12]);
      return ((utime + stime) * 1000) / ticksPerSecond();
    } catch {
      return null;
    }
  }

  /** Log lines at level error or fatal (pino JSON), for the report. */
  errorLines(): string[] {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => /"level":(50|60)/.test(l));
  }

  /** GET /metrics parsed into samples (name, labels, value). */
  async metrics(): Promise<Sample[]> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    const out: Sample[] = [];
    for (const line of (await res.text()).split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
      out.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
    return out;
  }
}
