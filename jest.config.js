/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '/.nightshift/', '\\.scale\\.test\\.ts$'],
  transform: {
    // Type checking is `npm run typecheck`'s job; the transform only strips types, so tests start fast.
    // It emits CommonJS (jest's module system), also for the ESM-only packages below; TypeScript 6
    // calls node10 resolution deprecated, which is acknowledged here and nowhere else.
    '^.+\\.[tj]s$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0', rootDir: '.', isolatedModules: true } },
    ],
  },
  // ESM-only packages (p-limit, p-map, hyparquet and theirs, thumbhash, commander 15): let ts-jest turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(commander|p-limit|p-map|yocto-queue|hyparquet|hyparquet-compressors|hyparquet-writer|hysnappy|fzstd|thumbhash)/)'],
  testTimeout: 120_000,
};
