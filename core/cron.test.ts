import { CronError, dstSurprises, nextRuns, parseCron } from './cron';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString().slice(0, 16));
const after = new Date('2026-11-22T10:00:00Z'); // a Sunday

describe('EventBridge cron', () => {
  it('runs the default schedule at 02:00 UTC every night', () => {
    expect(iso(nextRuns(parseCron('cron(0 2 * * ? *)'), after, 3))).toEqual(['2026-11-23T02:00', '2026-11-24T02:00', '2026-11-25T02:00']);
  });

  it('understands lists, ranges, steps, names and years', () => {
    expect(iso(nextRuns(parseCron('cron(0/30 22-23 ? * MON-FRI 2026)'), after, 5))).toEqual(['2026-11-23T22:00', '2026-11-23T22:30', '2026-11-23T23:00', '2026-11-23T23:30', '2026-11-24T22:00']);
    expect(iso(nextRuns(parseCron('cron(15 3 1,15 JAN,JUL ? *)'), after, 3))).toEqual(['2027-01-01T03:15', '2027-01-15T03:15', '2027-07-01T03:15']);
    expect(nextRuns(parseCron('cron(0 0 * * ? 2025)'), after, 1)).toEqual([]); // only in the past
  });

  it('understands L, W, # in the day fields', () => {
    expect(iso(nextRuns(parseCron('cron(0 1 L * ? *)'), after, 3))).toEqual(['2026-11-30T01:00', '2026-12-31T01:00', '2027-01-31T01:00']);
    expect(iso(nextRuns(parseCron('cron(0 1 ? * 6L *)'), after, 2))).toEqual(['2026-11-27T01:00', '2026-12-25T01:00']); // last Friday
    expect(iso(nextRuns(parseCron('cron(0 1 ? * MON#1 *)'), after, 2))).toEqual(['2026-12-07T01:00', '2027-01-04T01:00']);
    expect(iso(nextRuns(parseCron('cron(0 1 1W * ? *)'), after, 2))).toEqual(['2026-12-01T01:00', '2027-01-01T01:00']);
    expect(iso(nextRuns(parseCron('cron(0 1 LW * ? *)'), after, 1))).toEqual(['2026-11-30T01:00']);
  });

  it('evaluates in a time zone, across a daylight saving change', () => {
    // Europe/Paris leaves summer time on 2026-10-25: 02:00 local is 00:00 UTC before, 01:00 UTC after.
    const runs = nextRuns(parseCron('cron(0 2 * * ? *)'), new Date('2026-10-23T12:00:00Z'), 3, 'Europe/Paris');
    expect(iso(runs)).toEqual(['2026-10-24T00:00', '2026-10-25T01:00', '2026-10-26T01:00']);
  });

  it('skips a run whose local time daylight saving time skips, as EventBridge Scheduler does', () => {
    // Europe/Paris enters summer time on 2027-03-28: 02:00-02:59 local does not exist that night.
    const runs = nextRuns(parseCron('cron(0 2 * * ? *)'), new Date('2027-03-27T12:00:00Z'), 2, 'Europe/Paris');
    expect(iso(runs)).toEqual(['2027-03-29T00:00', '2027-03-30T00:00']);
  });

  it('names the scheduled local times that daylight saving skips or repeats in the coming year', () => {
    const from = new Date('2026-12-01T00:00:00Z');
    expect(dstSurprises(parseCron('cron(0 2 * * ? *)'), 'Europe/Paris', from)).toEqual([
      { kind: 'skipped', local: '2027-03-28 02:00' },
      { kind: 'repeated', local: '2027-10-31 02:00' },
    ]);
    expect(dstSurprises(parseCron('cron(30 1 * * ? *)'), 'America/New_York', from)).toEqual([{ kind: 'repeated', local: '2027-11-07 01:30' }]);
    expect(dstSurprises(parseCron('cron(0 4 * * ? *)'), 'Europe/Paris', from)).toEqual([]);
    expect(dstSurprises(parseCron('cron(0 2 * * ? *)'), 'UTC', from)).toEqual([]);
    // Only days the cron fires on count: a Monday-only schedule meets no Sunday change.
    expect(dstSurprises(parseCron('cron(0 2 ? * MON *)'), 'Europe/Paris', from)).toEqual([]);
  });

  it.each([
    ['0 2 * * ? *', 'it is not written as cron(...)'],
    ['cron(0 2 * * ?)', 'has 5 fields; EventBridge cron has 6'],
    ['cron(0 2 * * * *)', 'exactly one of day-of-month (*) and day-of-week (*) must be "?"'],
    ['cron(0 2 ? * ? *)', 'exactly one of day-of-month'],
    ['cron(60 2 * * ? *)', 'minutes field "60" is out of range 0-59'],
    ['cron(0 24 * * ? *)', 'hours field "24" is out of range 0-23'],
    ['cron(0 2 * FOO ? *)', 'month field "FOO" is not a number or one of JAN'],
    ['cron(0 2 ? * 8 *)', 'day-of-week field "8" is out of range 1-7'],
    ['cron(0 2 5-1 * ? *)', 'runs backwards'],
    ['cron(0/0 2 * * ? *)', 'bad step'],
  ])('rejects %s, saying why', (expression, why) => {
    expect(() => parseCron(expression)).toThrow(CronError);
    expect(() => parseCron(expression)).toThrow(why);
  });
});
