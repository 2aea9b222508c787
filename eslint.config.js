// @ts-check
// Linter: typescript-eslint's type-checked recommended set, minus the rules that would only force
// behaviour-neutral churn on this code base (see the comments on each), plus the promise rules that
// catch real bugs in a service that is async end to end.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// node:test's test()/describe() return promises the runner awaits itself.
const nodeTest = { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] };

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench-results/**', 'test-results/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Kept, tuned: an unawaited promise is a lost error or a race.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [nodeTest] }],
      // Koa's app.callback() handed to http.createServer, and knex's .where((q) => …) builders (thenables), are the
      // two shapes this code passes where a void callback is expected; both are correct.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // Off: JSON bodies, knex rows and third-party payloads are `any`/`unknown` at the edge and are validated by zod or
      // by the tests' assertions; typing every access would be a large rewrite with no behaviour change.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Off: `async` on a function without `await` keeps a thrown error a rejection (interface methods, handlers);
      // removing it would change behaviour.
      '@typescript-eslint/require-await': 'off',
      // Off: String(x ?? '') on untrusted `unknown` input is the intended coercion.
      '@typescript-eslint/no-base-to-string': 'off',
      // Off: stripping control characters from untrusted text is deliberate.
      'no-control-regex': 'off',
      // Off: ports and dependency bags are plain objects of closures declared with method syntax; the rule cannot
      // tell them from class methods and flags every `d.fileUrl`/`a.start` passed or tested as a value.
      '@typescript-eslint/unbound-method': 'off',
      // `catch {}` marks an error deliberately ignored (best-effort parsing and clean-up).
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'package', package: 'url', name: ['URL', 'URLSearchParams'] },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'fakes/**/*.ts'],
    rules: {
      // Tests and fakes throw plain objects to imitate library errors and HTTP answers.
      '@typescript-eslint/only-throw-error': 'off',
      // Cosmetic (`as any` on an `any` response body); not worth touching every test for.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Plain browser scripts of the workspace pages (no build step): the browser globals they use, listed
    // here rather than through another dependency.
    files: ['app/http/workspace/assets/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'FormData', 'EventSource', 'URL', 'setTimeout', 'clearTimeout'].map((g) => [g, 'readonly'])),
    },
  },
);
