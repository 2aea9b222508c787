import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * What is running, for /healthz and /metrics: the package version, and the git revision from
 * APP_REVISION (set by the image build, where there is no .git) or else from the checkout.
 */
export interface BuildInfo {
  readonly version: string;
  readonly revision: string;
  readonly node: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function gitRevision(): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    return out.trim() || undefined;
  } catch {
    return undefined; // no git binary, or not a checkout (a copied tree, an image)
  }
}

let info: BuildInfo | undefined;

export function buildInfo(env: Record<string, string | undefined> = process.env): BuildInfo {
  if (info) return info;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  const revision = env.APP_REVISION?.trim() || gitRevision() || 'unknown';
  info = Object.freeze({ version: pkg.version ?? '0.0.0', revision: revision.slice(0, 40), node: process.versions.node });
  return info;
}
