/**
 * Backfill through the catalogue (issue 28), end to end in the embedded runtime: a corpus rendered
 * by a version without records (its promoted catalogue has no `done.record`, its table no
 * records), then one `nightshift local` run: every image gets its record, nothing is rendered or
 * written to the renditions bucket, and the plan and the email say how many were backfilled, from
 * the same counts. The run after has nothing to do.
 *
 * The "version without records" is made from a first run with records, by taking them away: the
 * table's records deleted and the catalogue's markers removed, as a catalogue promoted before
 * records existed has none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, ImageRecordStore } from '../adapters/dynamodb';
import { createS3Client, getJson, getText } from '../adapters/s3';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ImageRecord } from '../core/records/record';
import { IMAGES_TABLE_NAME } from '../core/records/table';
import type { Report } from '../core/report';
import type { StateRecord } from '../core/state';
import { LOCAL_BUCKETS as B } from '../local/runner';
import { orientedJpeg, photoJpeg, png16WithAlpha } from '../local/sample/images';
import { runCli } from './support/cli';
import { readEml } from './support/eml';
import { ROOT } from './support/processes';

const PRESETS = '[{"name":"tiny","width":24,"formats":["webp","jpeg"]},{"name":"small","width":48,"formats":["webp"]}]';
const KEYS = ['photos/alpha.png', 'photos/plain.jpg', 'photos/turned.jpg'];

let dir: string;
let serve: ChildProcess;
let s3: S3Client;
let dynamo: DynamoDBClient;
let store: ImageRecordStore<ImageRecord>;

const night = async (extra: string[] = []) => {
  const run = await runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '-c', `nightshift.presets=${PRESETS}`, ...extra], { cwd: dir });
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
  const plan = await getJson<Plan>(s3, B.work, runKeys(run.json.runId).plan);
  return { ...run, plan };
};

/** Every rendition in the bucket with its ETag: what a render would change. */
async function renditionEtags(records: readonly ImageRecord[]): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  for (const r of records) for (const x of r.renditions) etags.set(x.key, (await s3.send(new HeadObjectCommand({ Bucket: B.renditions, Key: x.key }))).ETag!);
  return etags;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-backfill-'));
  mkdirSync(join(dir, 'pics', 'photos'), { recursive: true });
  writeFileSync(join(dir, 'pics', 'photos', 'alpha.png'), await png16WithAlpha(48, 32));
  writeFileSync(join(dir, 'pics', 'photos', 'plain.jpg'), await photoJpeg(64, 48, 4));
  writeFileSync(join(dir, 'pics', 'photos', 'turned.jpg'), await orientedJpeg(60, 40, 6));
  serve = spawn(process.execPath, [require.resolve('tsx/cli'), '--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/nightshift.ts'), 'local', 'serve', '--json', '--data-dir', join(dir, '.nightshift')], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: serve.stdout! }), 'line')) as [string];
  const info = JSON.parse(line) as { endpoint: string; dynamodb: string };
  s3 = createS3Client({ endpoint: info.endpoint });
  dynamo = createDynamoClient({ endpoint: info.dynamodb, maxAttempts: 3 }, {});
  store = new ImageRecordStore<ImageRecord>(dynamo, IMAGES_TABLE_NAME);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  dynamo?.destroy();
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await once(serve, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

it('records every image of a corpus rendered without records, rendering nothing, and says so in the plan and the email', async () => {
  const first = await night(['--import', join(dir, 'pics')]);
  const rendered = await Promise.all(KEYS.map(async (key) => (await store.getRecord(key))!));
  expect(rendered.map((r) => [r.key, r.status])).toEqual(KEYS.map((k) => [k, 'rendered']));
  const before = await renditionEtags(rendered);
  expect(before.size).toBe(KEYS.length * 3);

  // As a version without records left it: no record in the table, no marker in the catalogue.
  for (const r of rendered) expect(await store.deleteRecord(r.key, r.etag)).toBe(true);
  const catalogue = (await getText(s3, B.work, STATE_CATALOG_KEY)).trim().split('\n').map((l) => JSON.parse(l) as StateRecord);
  expect(catalogue.map((r) => [r.key, r.done?.record])).toEqual(KEYS.map((k) => [k, true]));
  const unmarked = catalogue.map(({ done, ...r }) => ({ ...r, done: { backup: done!.backup, renditions: done!.renditions } }));
  await s3.send(new PutObjectCommand({ Bucket: B.work, Key: STATE_CATALOG_KEY, Body: unmarked.map((r) => `${JSON.stringify(r)}\n`).join('') }));

  const second = await night();
  expect({ work: second.plan.counts.work, backfill: second.plan.counts.backfill, nothingToDo: second.plan.nothingToDo }).toEqual({ work: 3, backfill: 3, nothingToDo: false });
  const report = await getJson<Report>(s3, B.work, runKeys(second.json.runId).report);
  const email = (await readEml(readFileSync(second.json.email!, 'utf8'))).text;
  // One story: the plan's count, the results' count, and the texts made from them.
  expect({
    plan: { work: second.plan.counts.work, backfill: second.plan.counts.backfill },
    resize: { processed: report.operations.resize?.processed, bytesWritten: report.operations.resize?.bytesWritten, renditions: report.renditions },
    records: { backfilled: report.records?.backfilled, added: report.records?.changes.added },
  }).toEqual({
    plan: { work: 3, backfill: 3 },
    resize: { processed: 0, bytesWritten: 0, renditions: {} },
    records: { backfilled: 3, added: 3 },
  });
  expect(email).toContain('\n           3 images get their details recorded without re-rendering (backfill)\n');
  expect(email).toMatch(/\nRecords +3 records changed: 3 added, 0 updated, 0 removed, 0 failed \(3 by backfill, without re-rendering\); change feed /);
  // Every image has its record again, as the rendering run wrote it (the placeholder comes from the
  // smallest rendition now; what the policies did is known only to a render: a backfill has no `rendering`).
  for (const was of rendered) {
    const { placeholder: _p, updatedAt: _u, runId, ...now } = (await store.getRecord(was.key))!;
    const { placeholder: _q, updatedAt: _v, runId: _r, rendering: _g, ...then } = was as typeof was & { rendering?: unknown };
    expect({ ...now, runId }).toEqual({ ...then, runId: second.json.runId });
  }
  // Nothing rendered: every rendition is the object it was.
  expect(await renditionEtags(rendered)).toEqual(before);
  expect(first.json.runId).not.toBe(second.json.runId);

  // The markers are promoted: the next run has nothing to do.
  const third = await night();
  expect(third.plan).toMatchObject({ nothingToDo: true, counts: { work: 0 } });
  expect(third.plan.counts.backfill).toBeUndefined();
}, 600_000);
