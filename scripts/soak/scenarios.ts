import type { Dialect } from './world.ts';

export interface Size {
  crash: { messages: number; kills: number; airyConversations: number; alvariaConversations: number; timeoutMs: number };
  storm: { messages: number; conversations: number; faultRate: number; idleWindowMs: number; timeoutMs: number };
  instances: { messages: number; conversations: number; timeoutMs: number };
  fuzz: { requests: number; concurrency: number; timeoutMs: number };
  hostile: { seconds: number; conversations: number; intervalMs: number; hostileUsers: number; timeoutMs: number };
}

const MIN = 60_000;

/** SOAK_SIZE=full is the load the soak exists to prove; ci is a reduced run of every scenario that fits a CI job. */
export const SIZES: Record<'full' | 'ci', Size> = {
  full: {
    crash: { messages: 5000, kills: 3, airyConversations: 80, alvariaConversations: 20, timeoutMs: 20 * MIN },
    storm: { messages: 1000, conversations: 40, faultRate: 0.5, idleWindowMs: 3000, timeoutMs: 20 * MIN },
    instances: { messages: 10_000, conversations: 200, timeoutMs: 20 * MIN },
    fuzz: { requests: 10_000, concurrency: 16, timeoutMs: 10 * MIN },
    hostile: { seconds: 60, conversations: 10, intervalMs: 500, hostileUsers: 4, timeoutMs: 10 * MIN },
  },
  ci: {
    crash: { messages: 500, kills: 1, airyConversations: 20, alvariaConversations: 5, timeoutMs: 4 * MIN },
    storm: { messages: 100, conversations: 10, faultRate: 0.5, idleWindowMs: 2000, timeoutMs: 4 * MIN },
    instances: { messages: 1000, conversations: 50, timeoutMs: 4 * MIN },
    fuzz: { requests: 2000, concurrency: 16, timeoutMs: 3 * MIN },
    hostile: { seconds: 20, conversations: 5, intervalMs: 500, hostileUsers: 4, timeoutMs: 4 * MIN },
  },
};

export interface ScenarioContext {
  dialect: Dialect;
  pgUrl: string;
  size: Size;
  log(line: string): void;
  /** App log lines at error level, collected for the report. */
  errorLines: string[];
}

export interface ScenarioResult {
  /** Invariants that did not hold (empty = pass). */
  failures: string[];
  figures: Record<string, string | number>;
  notes?: string[];
}
