/**
 * Two runs at once (the schedule fires while an ad-hoc run is active): the later one detects the
 * earlier one in its first state and ends with a "skipped" email instead of racing it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readEml } from './support/eml';
import { listPages } from '../adapters/s3';
import { LOCAL_BUCKETS as B } from '../local/runner';
import { photoJpeg } from '../local/sample/images';
import { runCli } from './support/cli';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { expectRunInvariants } from './support/invariants';
import { startTestS3, type TestS3 } from './support/processes';

let tmp: string;
let server: TestS3;
let gate: FaultProxy;
const originals = new Map<string, Buffer>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-concurrent-'));
  server = await startTestS3([]);
  for (const b of Object.values(B)) await server.s3.send(new CreateBucketCommand({ Bucket: b }));
  for (let i = 0; i < 8; i++) {
    const body = await photoJpeg(1000, 750, 40 + i);
    originals.set(`p/${i}.jpg`, body);
    await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: `p/${i}.jpg`, Body: body }));
  }
  // The first run goes through a gate that holds its rendition uploads: it stays in progress
  // until the test opens the gate, however fast or slow the machine is.
  const objectWrite = new RegExp(`^/${B.renditions}/[^?]+`); // a key, not CreateBucket's PUT /bucket/
  gate = await startFaultProxy({ target: server.endpoint, rate: 0, hold: (method, path) => method === 'PUT' && objectWrite.test(path) });
});
afterAll(async () => {
  gate?.open();
  await gate?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it('lets exactly one of two simultaneous runs work; the other is skipped with an email naming it', async () => {
  const run = (dir: string, endpoint: string, extra: string[] = []) => runCli(['local', '--json', '--data-dir', join(tmp, dir), '--endpoint', endpoint, ...extra], { cwd: tmp });
  const markers = async () => {
    const keys: string[] = [];
    for await (const page of listPages(server.s3, { bucket: B.work, prefix: 'running/' })) keys.push(...page.objects.map((o) => o.Key!));
    return keys;
  };
  const first = run('a', gate.endpoint);
  const deadline = Date.now() + 120_000;
  while (gate.stats.held === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(await markers()).toHaveLength(1); // the first run is in progress, held at its first rendition
  // The skipped run is a dry run: its advice is to start it again once the active run ends, not "nothing".
  const skipped = await run('b', server.endpoint, ['--dry-run', '--prefix', 'p/']);
  gate.open();
  const worker = await first;
  expect([worker.code, skipped.code]).toEqual([0, 0]);
  expect(skipped.json.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'NotifySkipped', 'Done']);
  expect(worker.json.history).toContain('Aggregate');
  expect(worker.json.counts).toMatchObject({ due: 8, rendered: 8 });
  const eml = readFileSync(skipped.json.email!, 'utf8');
  const email = await readEml(eml);
  expect(email.subject).toContain(`skipped, run ${worker.json.runId} in progress`);
  expect(email.text).toMatch(new RegExp(`^Skipped: run ${worker.json.runId} was still in progress`));
  expect(email.text).toContain(`\nNext:\n  This dry run planned nothing. Once run ${worker.json.runId} ends, start it again (nightshift local --prefix p/ --dry-run): its plan then counts what is left to do.\n`);
  // Both runs are over: no marker of a running run is left behind.
  expect(await markers()).toEqual([]);
  await expectRunInvariants({ s3: server.s3, buckets: B, runId: worker.json.runId, originals, outbox: join(tmp, 'a', 'outbox') });
  expect(readdirSync(join(tmp, 'b', 'outbox')).filter((f) => f.startsWith(skipped.json.runId))).toEqual([`${skipped.json.runId}.eml`]);
}, 300_000);

it('refuses a second local run on the same embedded data, saying why', async () => {
  const dir = join(tmp, 'shared');
  const [a, b] = await Promise.all([runCli(['local', '--json', '--data-dir', dir], { cwd: tmp }), new Promise((r) => setTimeout(r, 300)).then(() => runCli(['local', '--json', '--data-dir', dir], { cwd: tmp }))]);
  const refused = [a, b].find((r) => r.code !== 0);
  expect(refused?.stderr).toMatch(/another local run \(pid \d+\) is using .*shared: wait for it to end, or run this one against a shared --endpoint/);
  expect([a, b].filter((r) => r.code === 0)).toHaveLength(1);
}, 300_000);
