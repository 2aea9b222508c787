import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// What a production install ships (the Dockerfile copies app/, db/migrations/ and two operator
// scripts; `npm ci --omit=dev` installs no devDependency) must not reach for the fakes, the
// test rig or the other scripts, which need devDependencies and are not copied.

const ROOT = resolve('.');
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of `file`, as a path from the project root. */
function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => relative(ROOT, resolve(dirname(file), (m[1] ?? m[2] ?? m[3])!)));
}

test('production files import only production files: app/, db/migrations/ and the two operator scripts stay inside what the image copies', () => {
  const shipped = [...tsFiles('app'), ...tsFiles('db/migrations'), 'scripts/dead-letters.ts', 'scripts/print-manifest.ts'];
  const allowed = (p: string) => p.startsWith('app/') || p.startsWith('db/migrations/');
  const outside = shipped.flatMap((f) =>
    importsOf(f)
      .filter((p) => !allowed(p))
      .map((p) => `${f} imports ${p}`),
  );
  assert.deepEqual(outside, []);
  assert.ok(shipped.length > 100, `walked the tree (${shipped.length} files)`);
});

test('test/ is test-only: nothing outside it imports from it', () => {
  const files = ['app', 'db', 'fakes', 'scripts'].flatMap(tsFiles);
  const intoTest = files.flatMap((f) =>
    importsOf(f)
      .filter((p) => p.startsWith('test/'))
      .map((p) => `${f} imports ${p}`),
  );
  assert.deepEqual(intoTest, []);
});

test('the fakes stand alone: fakes/ imports no code of the app', () => {
  const intoApp = tsFiles('fakes').flatMap((f) =>
    importsOf(f)
      .filter((p) => !p.startsWith('fakes/'))
      .map((p) => `${f} imports ${p}`),
  );
  assert.deepEqual(intoApp, []);
});
