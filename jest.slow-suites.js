/**
 * Which suites `npm test` leaves to `npm run test:slow` (CI runs both). A new suite that runs the
 * whole pipeline end to end (`nightshift local` runs, signals, injected faults) or takes more than
 * about 20 s on 2 cores is named `*.slow.test.ts`. SLOW lists the suites that were slow before the
 * rule, left where they are: together about 6 of the suite's 11 minutes on 2 cores.
 */
module.exports = {
  SLOW: ['test/local-e2e.test.ts', 'test/faults.test.ts', 'test/nights.test.ts', 'test/interrupted.test.ts', 'test/concurrency.test.ts', 'test/kill.test.ts', 'test/signals.test.ts'],
};
