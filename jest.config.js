/**
 * `npm test`: every suite but the slow ones, which `npm run test:slow` runs (jest.slow.config.js;
 * CI runs both, .ci/run). The rule, in jest.slow-suites.js: an end-to-end scenario or a suite of
 * more than about 20 s on 2 cores is named `*.slow.test.ts`. Load tests are `*.scale.test.ts`
 * (`npm run test:scale`).
 */
const { SLOW } = require('./jest.slow-suites.js');
const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.test.ts'],
  // What `npm run synth` leaves in cdk.out (bundled assets, each with a copy of package.json) is no
  // module of the project: without this, jest warns of a "Haste module naming collision" after a synth.
  modulePathIgnorePatterns: ['<rootDir>/cdk.out/'],
  testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '/.nightshift/', '\\.scale\\.test\\.ts$', '\\.slow\\.test\\.ts$', ...SLOW.map((p) => `<rootDir>/${escape(p)}$`)],
  // One worker per core (jest's default leaves one core idle: a single worker on 2 cores). The
  // suites wait on the servers and jobs they spawn as much as they compute.
  maxWorkers: '100%',
  transform: {
    // Type checking is `npm run typecheck`'s job; the transform only strips types, so tests start fast.
    // It emits CommonJS (jest's module system), also for the ESM-only packages below; TypeScript 6
    // calls node10 resolution deprecated, which is acknowledged here and nowhere else.
    '^.+\\.[tj]s$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0', rootDir: '.', isolatedModules: true } },
    ],
  },
  // ESM-only packages (p-limit, p-map, hyparquet and theirs, thumbhash): let ts-jest turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|p-map|yocto-queue|hyparquet|hyparquet-compressors|hyparquet-writer|hysnappy|fzstd|thumbhash)/)'],
  testTimeout: 120_000,
};
