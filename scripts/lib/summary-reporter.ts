/**
 * A node:test reporter (https://nodejs.org/api/test.html#custom-reporters) that writes one
 * JSON object when the run ends: tests passed, failed and skipped (suites are not counted),
 * with each skip reason and how often it occurred, and the names of failed tests.
 * scripts/test.ts gives it a file as destination and prints the per-database summary from it.
 */
interface TestEventData {
  name: string;
  file?: string;
  skip?: boolean | string;
  todo?: boolean | string;
  details?: { type?: 'suite' | 'test' };
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
  /** reason → count */
  skipReasons: Record<string, number>;
  failures: string[];
}

export default async function* summaryReporter(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
  const s: RunSummary = { passed: 0, failed: 0, skipped: 0, todo: 0, skipReasons: {}, failures: [] };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.details?.type === 'suite') continue;
    if (d.skip !== undefined && d.skip !== false) {
      s.skipped++;
      const why = typeof d.skip === 'string' && d.skip ? d.skip : 'no reason given';
      s.skipReasons[why] = (s.skipReasons[why] ?? 0) + 1;
    } else if (d.todo !== undefined && d.todo !== false) {
      s.todo++;
    } else if (event.type === 'test:pass') {
      s.passed++;
    } else {
      s.failed++;
      s.failures.push(d.file ? `${d.name} (${d.file})` : d.name);
    }
  }
  yield `${JSON.stringify(s)}\n`;
}
