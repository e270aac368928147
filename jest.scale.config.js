/** `npm run test:scale`: the load tests, kept out of `npm test` (minutes, not seconds). */
const base = require('./jest.config.js');
module.exports = { ...base, testMatch: ['**/*.scale.test.ts'], testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '/.nightshift/'], testTimeout: 1_800_000 };
