// The layers of src/ and the one way their imports run (docs/architecture.md draws them).
// A folder may import itself and the folders listed for it, nothing above. `npm test` runs this.

/** Each folder of src/ and the folders below it that it may import. */
const layers = {
  core: [],
  protocol: ['core'],
  sdk: ['core', 'protocol'],
  db: ['core', 'protocol'],
  'http-tasks': ['core', 'protocol'],
  events: ['core', 'protocol', 'db'],
  queue: ['core', 'protocol', 'db', 'http-tasks', 'events'],
  bus: ['core', 'protocol', 'db', 'queue'],
  intake: ['core', 'protocol', 'db', 'http-tasks', 'queue', 'bus'],
  workflow: ['core', 'protocol', 'db', 'queue', 'bus', 'intake'],
  beat: ['core', 'protocol', 'db', 'bus', 'intake'],
  consumers: ['core', 'protocol', 'db', 'http-tasks', 'queue', 'sdk'],
  api: ['core', 'protocol', 'db', 'http-tasks', 'events', 'queue', 'bus', 'intake', 'workflow', 'beat', 'consumers'],
};

const folders = (list) => `^src/(${list.join('|')})/`;

module.exports = {
  forbidden: [
    ...Object.entries(layers).map(([layer, below]) => ({
      name: `layer-${layer}`,
      comment: `src/${layer}/ may import only ${below.length ? below.map((b) => `src/${b}/`).join(', ') : 'itself'} (and the bindings' types in src/env.ts)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: '^src/', pathNot: [folders([layer, ...below]), '^src/env\\.ts$'] },
    })),
    {
      name: 'env-types-only',
      comment: 'src/env.ts declares the bindings: it may name the object classes as types, nothing more',
      severity: 'error',
      from: { path: '^src/env\\.ts$' },
      to: { path: '^src/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circle',
      comment: 'no circle of imports, between folders or within one',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaNot: '^src/env\\.ts$' },
    },
    {
      name: 'src-stands-alone',
      comment: 'src/ imports no tests, examples, regional scripts or scripts',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|examples|workers|scripts)/' },
    },
    {
      name: 'examples-are-leaves',
      comment: 'examples (the scraping example\'s regional consumer scripts included) are imported by demos and tests only',
      severity: 'error',
      from: { pathNot: '^(examples|test|scripts)/' },
      to: { path: '^examples/' },
    },
    {
      name: 'sdk-speaks-http',
      comment: 'the client and pull-worker SDK, and the code it ships to users, use only the protocol and core',
      severity: 'error',
      from: { path: '^(examples|workers)/' },
      to: { path: '^src/', pathNot: '^src/(sdk|core|protocol|consumers)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
