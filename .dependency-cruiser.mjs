// Layer rules: an import may only go down the stack (or stay inside its own layer), and nothing forms a cycle.
// The layer names are the ones docs/ARCHITECTURE.md uses. Type-only imports count: a type is a dependency too.
// Run with `npm run lint` (or `npx depcruise app scripts test db` for this check alone).

/** Top to bottom. Layers with the same rank are siblings: neither may import the other. */
const layers = [
  { name: 'entry', rank: 0, path: ['^app/main\\.ts$', '^app/startup-errors\\.ts$', '^scripts/'] },
  { name: 'root', rank: 1, path: ['^app/bridge\\.ts$'] },
  { name: 'http', rank: 2, path: ['^app/http/'] },
  { name: 'flows', rank: 3, path: ['^app/flows/'] },
  { name: 'pipedrive', rank: 4, path: ['^app/pipedrive/'] },
  { name: 'platforms', rank: 4, path: ['^app/platforms/'] },
  { name: 'domain', rank: 5, path: ['^app/domain/'] },
  { name: 'runtime', rank: 6, path: ['^app/runtime/'] },
  // The migrations are SQL too; only the store runs them.
  { name: 'store', rank: 7, path: ['^app/store/', '^db/'] },
  { name: 'ground', rank: 8, path: ['^app/ground/'] },
];

const upward = layers.slice(1).map((layer) => {
  const above = layers.filter((l) => l.rank < layer.rank || (l.rank === layer.rank && l.name !== layer.name));
  const below = layers.filter((l) => l.rank > layer.rank).map((l) => l.name);
  return {
    name: `${layer.name}-imports-only-below`,
    comment: `${layer.name} may import only ${below.length ? below.join(', ') : 'nothing outside itself'}; it imported ${above.map((l) => l.name).join(' or ')}`,
    severity: 'error',
    from: { path: layer.path },
    to: { path: above.flatMap((l) => l.path) },
  };
});

const path = (name) => layers.find((l) => l.name === name).path;

export default {
  forbidden: [
    ...upward,
    {
      name: 'store-only-from-domain-runtime-flows',
      comment: 'only domain, runtime and flows (and the root and entry points that wire them) use the store; pass narrow functions or repositories instead',
      severity: 'error',
      from: { path: [...path('http'), ...path('pipedrive'), ...path('platforms'), ...path('ground')] },
      to: { path: path('store') },
    },
    {
      name: 'platforms-never-outbox',
      comment: 'a platform adapter reports retry/defer through the failure vocabulary in ground, never through the outbox',
      severity: 'error',
      from: { path: path('platforms') },
      to: { path: '^app/runtime/outbox\\.ts$' },
    },
    {
      name: 'platforms-use-domain-types-only',
      comment: 'a platform adapter sees the domain only through the narrow port type it is handed',
      severity: 'error',
      from: { path: path('platforms') },
      to: { path: path('domain'), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'app-never-test-or-scripts',
      comment: 'the product does not depend on tests or tools',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: ['^test/', '^scripts/'] },
    },
    {
      name: 'test-is-test-only',
      comment: 'scripts (demo, bench, soak) may use app/, but nothing outside test/ imports test/',
      severity: 'error',
      from: { path: '^(app|scripts|db)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-cycles',
      comment: 'no import cycle, type-only imports included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve is a typo or a missing dependency',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json', '.d.ts'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
