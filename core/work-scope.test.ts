import { ALL_SHARDS, shardOfChild, workScope } from './work-scope';

const plan = { shardCount: 5, arrayJobs: { backup: true, resize: true } };
const key = (op: string) => `runs/r/scope/${op}-1.json`;
const none = new Set<number>();

describe('the scope of Work', () => {
  it('runs every shard the first time, as the plan has them', () => {
    expect(workScope(plan, { backup: none, resize: none }, key)).toEqual({
      scope: { backup: { run: true, arraySize: 5, shards: ALL_SHARDS, count: 5 }, resize: { run: true, arraySize: 5, shards: ALL_SHARDS, count: 5 } },
      lists: {},
    });
  });

  it('after a redrive runs only the shards without a result, padding a single one to the array minimum of 2', () => {
    const { scope, lists } = workScope(plan, { backup: new Set([0, 1, 2, 3, 4]), resize: new Set([0, 2, 3, 4]) }, key);
    expect(scope).toEqual({ backup: { run: false, arraySize: 0, shards: ALL_SHARDS, count: 0 }, resize: { run: true, arraySize: 2, shards: key('resize'), count: 1 } });
    expect(lists).toEqual({ resize: { shards: [1] } });
    expect([0, 1].map((i) => shardOfChild(i, lists.resize))).toEqual([1, undefined]); // the second child pads the array
    expect(workScope(plan, { backup: new Set([4]), resize: new Set([0, 1, 2, 3, 4]) }, key).lists).toEqual({ backup: { shards: [0, 1, 2, 3] } });
  });

  it('leaves out an array job the plan does not run', () => {
    expect(workScope({ ...plan, arrayJobs: { backup: false, resize: true } }, { backup: none, resize: none }, key).scope.backup.run).toBe(false);
    expect(shardOfChild(3, undefined)).toBe(3);
  });
});
