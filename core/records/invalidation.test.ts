import type { ChangeLine } from './changes';
import { FILE_PATHS_IN_PROGRESS, InvalidationPlanner, planInvalidation, WILDCARD_PATHS_IN_PROGRESS } from './invalidation';

const line = (change: ChangeLine['change'], key: string, renditions: string[]): ChangeLine => ({ key, change, etag: '"e"', renditions });

/** `count` updated originals, each with one thumb and one large rendition, spread over `folders` folders. */
function updates(count: number, folders: number): ChangeLine[] {
  return Array.from({ length: count }, (_, i) => {
    const stem = `photos/f${String(i % folders).padStart(3, '0')}/img${String(i).padStart(6, '0')}`;
    return line('updated', `${stem}.jpg`, [`thumb/${stem}.webp`, `large/${stem}.webp`]);
  });
}

describe('which CDN paths a run invalidates', () => {
  it('names each replaced or removed rendition, and none that is new or whose original failed', () => {
    const plan = planInvalidation([
      line('added', 'a/new.jpg', ['thumb/a/new.webp']),
      line('updated', 'a/changed.jpg', ['thumb/a/changed.webp', 'large/a/changed.webp']),
      line('failed', 'a/broken.jpg', []),
      line('removed', 'b/gone.png', ['thumb/b/gone.webp']),
    ]);
    expect(plan).toEqual({ scope: 'files', renditions: 3, cap: 1000, paths: ['/large/a/changed.webp', '/thumb/a/changed.webp', '/thumb/b/gone.webp'] });
  });

  it('asks for nothing when nothing was replaced or removed', () => {
    expect(planInvalidation([line('added', 'a.jpg', ['thumb/a.webp'])])).toEqual({ scope: 'none', renditions: 0, cap: 1000, paths: [] });
  });

  it('encodes paths as viewers request them (as records\' urls), and covers a key holding * by a wildcard before it', () => {
    const plan = planInvalidation([line('updated', 'x', ['thumb/caf\u00e9 + 100%.webp', 'thumb/what*now/a.webp'])]);
    expect(plan.paths).toEqual(['/thumb/caf%C3%A9%20%2B%20100%25.webp', '/thumb/what*']);
  });

  it('at the cap names every rendition; one more, and it invalidates their folders instead', () => {
    // 500 originals x 2 renditions = 1,000 paths: exactly the default cap.
    expect(planInvalidation(updates(500, 3))).toMatchObject({ scope: 'files', renditions: 1000 });
    expect(planInvalidation(updates(500, 3)).paths).toHaveLength(1000);
    const over = planInvalidation([...updates(500, 3), line('removed', 'photos/f000/late.jpg', ['thumb/photos/f000/late.webp'])]);
    expect(over).toEqual({ scope: 'folders', renditions: 1001, cap: 1000, paths: ['/large/photos/f000/*', '/large/photos/f001/*', '/large/photos/f002/*', '/thumb/photos/f000/*', '/thumb/photos/f001/*', '/thumb/photos/f002/*'] });
  });

  it('invalidates everything (/*) when even the folders are above the cap', () => {
    // Cap 4: 6 paths are too many, and so are their 6 folders.
    expect(planInvalidation(updates(3, 3), 4)).toEqual({ scope: 'everything', renditions: 6, cap: 4, paths: ['/*'] });
    // Cap 6: the 6 paths fit.
    expect(planInvalidation(updates(3, 3), 6).scope).toBe('files');
    // Cap 5, renditions in one folder per preset: the 2 folders.
    expect(planInvalidation(updates(3, 1), 5)).toMatchObject({ scope: 'folders', paths: ['/large/photos/f000/*', '/thumb/photos/f000/*'] });
  });

  it('stays within what CloudFront accepts in progress at once, whatever the cap (3,000 files, 15 wildcards)', () => {
    // CloudFront developer guide, "Concurrent invalidation request maximum".
    const big = 10_000;
    expect(planInvalidation(updates(FILE_PATHS_IN_PROGRESS / 2, 5), big)).toMatchObject({ scope: 'files' });
    expect(planInvalidation(updates(FILE_PATHS_IN_PROGRESS / 2 + 1, 5), big)).toMatchObject({ scope: 'folders' });
    // 8 folders x 2 presets = 16 wildcards: one too many.
    expect(planInvalidation(updates(5000, 8), big)).toMatchObject({ scope: 'everything', paths: ['/*'] });
    expect(planInvalidation(updates(5000, 7), big).paths).toHaveLength(14);
    expect(WILDCARD_PATHS_IN_PROGRESS).toBe(15);
  });

  it('holds a bounded number of paths however many lines stream by', () => {
    const planner = new InvalidationPlanner(10);
    for (const l of updates(20_000, 50)) planner.add(l);
    const held = planner as unknown as { files: Set<string>; folders: Set<string> };
    expect(held.files.size).toBeLessThanOrEqual(11);
    expect(held.folders.size).toBeLessThanOrEqual(11);
    expect(planner.plan()).toEqual({ scope: 'everything', renditions: 40_000, cap: 10, paths: ['/*'] });
  });

  it('refuses a cap below 1', () => {
    expect(() => new InvalidationPlanner(0)).toThrow('maxInvalidationPaths must be a whole number >= 1, received 0');
  });
});
