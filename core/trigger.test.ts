import { parseCron } from './cron';
import { detectTrigger, runToYieldTo } from './trigger';

describe('who started a run', () => {
  const schedule = { cron: parseCron('cron(0 2 * * ? *)') };
  it('tells the CLI, the local runner, the schedule and the console apart', () => {
    expect(detectTrigger('cli-20261122T020000Z-ab12', new Date('2026-11-22T02:00:10Z'), schedule)).toBe('cli');
    expect(detectTrigger('local-20261122T020000Z-ab12', new Date('2026-11-22T02:00:10Z'), schedule)).toBe('local');
    expect(detectTrigger('e1b2c3', new Date('2026-11-22T02:00:40Z'), schedule)).toBe('schedule');
    expect(detectTrigger('e1b2c3', new Date('2026-11-22T10:17:00Z'), schedule)).toBe('console');
    expect(detectTrigger('e1b2c3', new Date('2026-11-22T02:00:40Z'))).toBe('console'); // no schedule deployed
  });
});

describe('two runs at once', () => {
  const run = (name: string, startDate: string) => ({ executionArn: `arn:${name}`, name, startDate });
  it('gives way to the oldest other running execution, never to itself or a later one', () => {
    const self = { name: 'b', startDate: '2026-11-22T02:00:05Z' };
    expect(runToYieldTo(self, [run('b', self.startDate)])).toBeUndefined();
    expect(runToYieldTo(self, [run('c', '2026-11-22T02:00:09Z'), run('b', self.startDate)])).toBeUndefined();
    expect(runToYieldTo(self, [run('c', '2026-11-22T02:00:09Z'), run('b', self.startDate), run('a2', '2026-11-22T01:59:00Z'), run('a1', '2026-11-22T01:00:00Z')])?.name).toBe('a1');
  });

  it('lets exactly one of two runs started in the same instant go ahead', () => {
    const t = '2026-11-22T02:00:00Z';
    const both = [run('x', t), run('y', t)];
    expect([runToYieldTo({ name: 'x', startDate: t }, both)?.name, runToYieldTo({ name: 'y', startDate: t }, both)?.name]).toEqual([undefined, 'x']);
  });
});
