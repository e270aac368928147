/** `npm run test:slow`: the end-to-end scenarios `npm test` leaves out (jest.slow-suites.js says which). CI runs both. */
const base = require('./jest.config.js');
const { SLOW } = require('./jest.slow-suites.js');

module.exports = { ...base, testMatch: ['**/*.slow.test.ts', ...SLOW.map((p) => `<rootDir>/${p}`)], testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '/.nightshift/'] };
