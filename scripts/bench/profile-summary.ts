/**
 * Reads V8 CPU profiles (BENCH_CPU_PROF=1 writes them to bench-results/profiles) and prints
 * where the time went: the top functions by self time, and by inclusive time for the
 * project's own code.
 *   node --import tsx scripts/bench/profile-summary.ts bench-results/profiles/<file>.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per sample, from the deltas (hitCount ignores sampling jitter).
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const where = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  self.set(where(n), (self.get(where(n)) ?? 0) + us);
  // Count each frame once per sample even under recursion.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur)!;
    const key = where(node);
    if (seen.has(key) || !/^(app|scripts|db)\//.test(node.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', ''))) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
show('self time', self);
show('inclusive time, project code', inclusive);

// Self time by package (node_modules/<name>), project folder, or Node internals.
const byPackage = new Map<string, number>();
for (const [id, us] of selfUs) {
  const url = byId
    .get(id)!
    .callFrame.url.replace(/^file:\/\//, '')
    .replace(process.cwd() + '/', '');
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  const key = m ? m[1]! : url.startsWith('node:') ? 'node internals' : url ? url.split('/').slice(0, 2).join('/') : byId.get(id)!.callFrame.functionName || '(native)';
  byPackage.set(key, (byPackage.get(key) ?? 0) + us);
}
show('self time by package', byPackage);
