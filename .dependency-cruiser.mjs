// Layer rules: an import may only go down the stack, and nothing forms a cycle.
// The layer names and "may import" lists are those of docs/ARCHITECTURE.md. Type-only imports count:
// a type is a dependency too. Run with `npm run lint` (or `npm run lint:layers` for this check alone).

/** Top to bottom, as in docs/ARCHITECTURE.md. A layer may also import its own files. */
const layers = [
  { name: 'entry', path: ['^app/main\\.ts$', '^app/startup-errors\\.ts$', '^scripts/'], mayImport: ['root', 'http', 'flows', 'pipedrive', 'platforms', 'domain', 'runtime', 'store', 'ground'] },
  { name: 'root', path: ['^app/bridge\\.ts$'], mayImport: ['http', 'flows', 'pipedrive', 'platforms', 'domain', 'runtime', 'store', 'ground'] },
  { name: 'http', path: ['^app/http/'], mayImport: ['flows', 'pipedrive', 'platforms', 'domain', 'runtime', 'store', 'ground'] },
  { name: 'flows', path: ['^app/flows/'], mayImport: ['pipedrive', 'platforms', 'domain', 'runtime', 'store', 'ground'] },
  // pipedrive and platforms are siblings: neither imports the other.
  { name: 'pipedrive', path: ['^app/pipedrive/'], mayImport: ['runtime', 'ground'] },
  { name: 'platforms', path: ['^app/platforms/'], mayImport: ['domain', 'runtime', 'ground'] },
  { name: 'domain', path: ['^app/domain/'], mayImport: ['runtime', 'store', 'ground'] },
  { name: 'runtime', path: ['^app/runtime/'], mayImport: ['store', 'ground'] },
  { name: 'store', path: ['^app/store/'], mayImport: ['ground'] },
  { name: 'ground', path: ['^app/ground/'], mayImport: [] },
];

const pathOf = (name) => layers.find((l) => l.name === name).path;

const layerRules = layers
  .map((layer) => ({ layer, others: layers.filter((l) => l !== layer && !layer.mayImport.includes(l.name)) }))
  .filter(({ others }) => others.length > 0)
  .map(({ layer, others }) => ({
    name: `${layer.name}-imports-only-below`,
    comment: `${layer.name} may import only ${layer.mayImport.length ? layer.mayImport.join(', ') : 'ground'}`,
    severity: 'error',
    from: { path: layer.path },
    to: { path: others.flatMap((l) => l.path) },
  }));

export default {
  forbidden: [
    ...layerRules,
    {
      name: 'store-only-from-domain-runtime-flows',
      comment: 'only domain, runtime and flows (and the root and entry points that wire them) import the store; others get narrow functions or repositories',
      severity: 'error',
      from: { path: [...pathOf('http'), ...pathOf('pipedrive'), ...pathOf('platforms'), ...pathOf('ground')] },
      to: { path: pathOf('store') },
    },
    {
      name: 'platforms-never-outbox',
      comment: 'an adapter says retry, permanent or defer-until with the failure vocabulary in ground, never with the outbox',
      severity: 'error',
      from: { path: pathOf('platforms') },
      to: { path: '^app/runtime/outbox\\.ts$' },
    },
    {
      name: 'platforms-use-domain-types-only',
      comment: 'an adapter sees the domain only through types: the narrow port it is handed',
      severity: 'error',
      from: { path: pathOf('platforms') },
      to: { path: pathOf('domain'), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'app-never-fakes-scripts-test',
      comment: 'a production install (npm ci --omit=dev) starts without fakes/, scripts/ and test/',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: ['^fakes/', '^scripts/', '^test/'] },
    },
    {
      name: 'migrations-stand-alone',
      comment: 'db/migrations/ is plain schema history: it imports no project code',
      severity: 'error',
      from: { path: '^db/' },
      to: { path: ['^app/', '^fakes/', '^scripts/', '^test/'] },
    },
    {
      name: 'fakes-stand-alone',
      comment: 'the fakes of Pipedrive, Airy and Alvaria import no code of the app, the scripts or the tests',
      severity: 'error',
      from: { path: '^fakes/' },
      to: { path: ['^app/', '^db/', '^scripts/', '^test/'] },
    },
    {
      name: 'test-is-test-only',
      comment: 'test/ may import anything; nothing outside test/ imports test/',
      severity: 'error',
      from: { pathNot: '^test/' },
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
  },
};
