/**
 * The embedded runtime end to end, through the CLI as a user runs it: the synthesized workflow on
 * the embedded S3 server, the real jobs and handlers, the email in .nightshift/outbox/. Results
 * are checked through the S3 API on the same data afterwards.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { readEml } from './support/eml';
import { compareKeys, renditionKey, runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Report } from '../core/report';
import { createS3Client, getJson, getText, listPages } from '../adapters/s3';
import { DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../adapters/dynamodb';
import { IMAGES_TABLE_NAME } from '../core/records/table';
import { LOCAL_BUCKETS } from '../local/runner';
import { hostileCorpus } from '../local/sample/corpus';
import { photoJpeg } from '../local/sample/images';
import { type CliRun, runCli } from './support/cli';
import { ROOT, startTestS3, type TestS3, withLocalS3 } from './support/processes';

const B = LOCAL_BUCKETS;
let data: string;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: data, env });

const local = (extra: string[] = [], env?: Record<string, string>) => cli(['local', '--data-dir', join(data, '.nightshift'), '--json', ...extra], env);

/** The embedded server over the run's data, for looking at the results through the S3 API. */
function inspect<T>(fn: (s: TestS3) => Promise<T>): Promise<T> {
  return withLocalS3(join(data, '.nightshift'), fn);
}

async function keys(server: TestS3, bucket: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const page of listPages(server.s3, { bucket, prefix })) out.push(...page.objects.map((o) => o.Key!));
  return out;
}

const corpusPromise = hostileCorpus({ photos: 2 });

beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'nightshift-e2e-'));
  const corpus = await corpusPromise;
  await inspect(async (server) => {
    for (const b of Object.values(B)) await server.s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: b }));
    for (const o of corpus) await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: o.key, Body: o.body, ContentType: o.contentType }));
  });
}, 120_000);
afterAll(() => rmSync(data, { recursive: true, force: true }));

describe('nightshift local (npm start)', () => {
  let first: CliRun;
  beforeAll(async () => {
    first = await local();
  }, 300_000);

  it('runs the whole workflow and exits 0 with a JSON summary last', async () => {
    expect({ code: first.code, stderr: first.code === 0 ? '' : first.stderr }).toEqual({ code: 0, stderr: '' });
    const corpus = await corpusPromise;
    const selected = corpus.filter((o) => !o.catalog);
    expect(first.json).toMatchObject({ status: 'SUCCEEDED', runId: expect.stringMatching(/^local-\d{8}T\d{6}Z-[0-9a-f]{4}$/), counts: { listed: corpus.length, due: selected.length } });
    expect(first.json.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'HasWork', 'ScopeWork', 'Work', 'BackupRequested', 'ResizeRequested', 'Backup', 'Resize', 'Aggregate', 'Notify', 'Done']);
    expect(first.stderr).toMatch(/resize +\[#+\] 2\/2 shards/);
    expect(first.stderr).toContain('Report: '); // with --json, people read stderr and scripts the last stdout line
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('renders every processed image, backs up every selected original, and accounts for every object', async () => {
    const corpus = await corpusPromise;
    const selected = corpus.filter((o) => !o.catalog);
    await inspect(async (server) => {
      const report = await getJson<Report>(server.s3, B.work, runKeys(first.json.runId).report);
      const resize = report.operations.resize!;
      expect(resize.processed + resize.skipped + resize.failed).toBe(selected.length);
      expect(resize.processed).toBe(selected.filter((o) => o.resize === 'processed').length);
      expect(new Map(report.failures.map((f) => [f.key, f.code]))).toEqual(new Map(selected.filter((o) => o.resize !== 'processed').map((o) => [o.key, o.resize!])));
      for (const o of selected.filter((x) => x.resize === 'processed')) {
        const thumb = await server.s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: renditionKey('thumb', o.key, 'webp', o.disambiguated) }));
        const meta = await sharp(Buffer.from(await thumb.Body!.transformToByteArray())).metadata();
        const source = await sharp(o.body).metadata();
        // The thumb preset fits a 320×320 box: the long side is 320 (or less: never enlarged).
        const { width, height } = source.autoOrient;
        const scale = Math.min(1, 320 / Math.max(width, height));
        expect({ key: o.key, format: meta.format, width: meta.width }).toEqual({ key: o.key, format: 'webp', width: Math.max(1, Math.round(width * scale)) });
      }
      for (const o of selected) {
        const [src, dst] = await Promise.all([server.s3.send(new HeadObjectCommand({ Bucket: B.corpus, Key: o.key })), server.s3.send(new HeadObjectCommand({ Bucket: B.backup, Key: o.key }))]);
        expect(dst.ETag).toBe(src.ETag);
      }
      const csv = await getText(server.s3, B.work, runKeys(first.json.runId).failuresCsv);
      expect(csv.trim().split('\r\n')).toHaveLength(1 + report.failures.length);
      const state = await getText(server.s3, B.work, STATE_CATALOG_KEY);
      expect(state.trim().split('\n')).toHaveLength(selected.length);
    });
  });

  it('writes the email as an .eml with the counts, and the report to disk', async () => {
    const failing = (await corpusPromise).filter((o) => !o.catalog && o.resize !== 'processed').length;
    const eml = readFileSync(first.json.email!, 'utf8');
    const { headers, subject, text: body, html } = await readEml(eml);
    expect(headers).toMatchObject({ from: 'nightshift <nightshift@localhost>', to: 'operator@nightshift.local' });
    expect(subject).toMatch(new RegExp(`^nightshift: \\d+ rendered, ${failing} failed$`));
    expect(headers.date).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/);
    // The collision pair's newcomer is rendered like the rest: nothing is left unrendered without a failure.
    expect(body).toMatch(new RegExp(`^\\d+ images with work due: \\d+ rendered, \\d+ backed up, ${failing} failed, see below\\.`));
    expect(body).toContain('pixel-limit');
    // The HTML alternative carries the same first sentence and the same lines.
    expect(html).toContain(`<p style="font-size:16px;font-weight:600">${body.split('\n')[0]}</p>`);
    expect(html).toContain('pixel-limit');
    expect(readFileSync(first.json.report!, 'utf8')).toContain(`<title>nightshift ${first.json.runId}</title>`);
  });

  it('copies the change feed beside the report, and records the Run Completed event in .nightshift/events/ in PutEvents\' shape', async () => {
    const { runId } = first.json;
    const report = JSON.parse(readFileSync(join(data, '.nightshift', 'reports', runId, 'report.json'), 'utf8')) as Report;
    const feed = readFileSync(join(data, '.nightshift', 'reports', runId, 'changes.jsonl'), 'utf8');
    const lines = feed.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { change: string });
    expect(Object.values(report.records!.changes).reduce((a, b) => a + b, 0)).toBe(lines.length);
    const request = JSON.parse(readFileSync(join(data, '.nightshift', 'events', `${runId}.json`), 'utf8')) as { Entries: { Source: string; DetailType: string; Detail: string }[] };
    expect(request.Entries.map((e) => [e.Source, e.DetailType])).toEqual([['nightshift', 'Run Completed']]);
    expect(JSON.parse(request.Entries[0]!.Detail)).toEqual({ runId, status: report.status, counts: report.records!.changes, changes: { bucket: B.work, key: runKeys(runId).changeFeed, uri: `s3://${B.work}/${runKeys(runId).changeFeed}` } });
  });

  it('renders the collision pair\'s newcomer under its own keys, the owner\'s left as they are, and reports it as rendered', async () => {
    const report = JSON.parse(readFileSync(join(data, '.nightshift', 'reports', first.json.runId, 'report.json'), 'utf8')) as Report;
    expect([...(report.skips ?? []), ...report.failures].filter((s) => s.key.startsWith('photos/beach.'))).toEqual([]);
    await inspect(async (server) => {
      for (const [key, rendition] of [
        ['photos/beach.jpg', 'thumb/photos/beach.webp'],
        ['photos/beach.png', 'thumb/photos/beach.png/.webp'],
      ] as const) {
        const [source, made] = await Promise.all([server.s3.send(new HeadObjectCommand({ Bucket: B.corpus, Key: key })), server.s3.send(new HeadObjectCommand({ Bucket: B.renditions, Key: rendition }))]);
        expect({ rendition, from: made.Metadata?.['source-etag'] }).toEqual({ rendition, from: source.ETag!.replaceAll('"', '') });
      }
    });
  });

  it('finds nothing to do on the second run', async () => {
    const second = await local();
    expect(second.code).toBe(0);
    // A night with nothing to do writes its report too.
    expect(second.json).toMatchObject({ status: 'SUCCEEDED', counts: { due: 0, rendered: 0 }, report: expect.stringMatching(/report\.html$/) });
    expect(second.json.history).toContain('NotifyNothingToDo');
    expect(second.stderr).toContain('Nothing to do: no images with work due');
  }, 120_000);

  it('processes exactly the two images added since', async () => {
    await inspect(async (server) => {
      for (const [i, key] of ['photos/new/one.jpg', 'photos/new/two.jpg'].entries()) await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: key, Body: await photoJpeg(640, 480, 900 + i) }));
    });
    const third = await local();
    expect(third.code).toBe(0);
    expect(third.json.counts).toMatchObject({ due: 2, rendered: 2, failed: 0, backedUp: 2 });
  }, 120_000);

  it('--dry-run writes nothing outside runs/<runId>/', async () => {
    const before = await inspect(async (server) => {
      await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: 'photos/new/three.jpg', Body: await photoJpeg(640, 480, 903) }));
      return { renditions: await keys(server, B.renditions), backup: await keys(server, B.backup), state: await getText(server.s3, B.work, STATE_CATALOG_KEY) };
    });
    const dry = await local(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.json.counts).toMatchObject({ due: 1, rendered: 0 });
    await inspect(async (server) => {
      expect(await keys(server, B.renditions)).toEqual(before.renditions);
      expect(await keys(server, B.backup)).toEqual(before.backup);
      expect(await getText(server.s3, B.work, STATE_CATALOG_KEY)).toBe(before.state); // not promoted
    });
    expect(readFileSync(dry.json.email!, 'utf8')).toContain('DRY RUN');
  }, 120_000);

  it('--dry-run --full is a plan to approve: what a real full run would really do, its cost, and its keys', async () => {
    // Every selected image is work for a full run, but only photos/new/three.jpg lacks its outputs.
    const dry = await local(['--dry-run', '--full']);
    expect(dry.code).toBe(0);
    const report = JSON.parse(readFileSync(join(data, '.nightshift', 'reports', dry.json.runId, 'report.json'), 'utf8')) as Report;
    expect(report.objects.work).toBeGreaterThan(10);
    const p = report.dryRunPlan!;
    // A real run would copy the one new original, and render it and try again the images that failed to decode on the first night.
    const failedFirst = (JSON.parse(readFileSync(join(data, '.nightshift', 'reports', first.json.runId, 'report.json'), 'utf8')) as Report).failures.filter((f) => f.operation === 'resize').map((f) => f.key);
    expect(failedFirst.length).toBeGreaterThan(0);
    expect({ copy: p.copy.objects, render: p.render.objects, prune: p.prune.objects }).toEqual({ copy: 1, render: 1 + failedFirst.length, prune: 0 });
    expect(p.current.backup).toBe(report.operations.backup!.items - 1);
    expect(p.cost.requests).toMatchObject({ copy: 1, put: p.render.renditions, get: p.render.objects });
    expect(p.cost.totalUsd).toBeGreaterThan(0);
    const planned = (await inspect((server) => getText(server.s3, B.work, runKeys(dry.json.runId).planned))).trim().split('\n').map((l) => JSON.parse(l) as { key: string; operation: string; action: string; bytes: number; renditions?: number });
    expect(planned.filter((a) => a.operation === 'backup')).toEqual([{ key: 'photos/new/three.jpg', operation: 'backup', action: 'copy', bytes: p.copy.bytes }]);
    const renders = planned.filter((a) => a.operation === 'resize');
    expect(renders.map((a) => a.key)).toEqual([...failedFirst, 'photos/new/three.jpg'].sort(compareKeys));
    expect(renders.reduce((sum, a) => sum + a.renditions!, 0)).toBe(p.render.renditions);
    const text = (await readEml(readFileSync(dry.json.email!, 'utf8'))).text;
    expect(text.split('\n')[0]).toMatch(new RegExp(`^Dry run: a real run now would back up 1 original \\([\\d.]+ [KMG]?i?B\\) and write ${p.render.renditions} renditions of ${p.render.objects} images\\. Nothing was written outside the run's folder\\.$`));
    expect(text).toMatch(/Would do +back up 1 original: .* to copy server-side \(\d+ already current\)/);
    // The records a real run would write are priced too (80 renditions of 10 images: DynamoDB write units).
    expect(text).toMatch(/Estimate +.* on the configured compute; about \$[\d.]+ \(compute \$[\d.]+, \d+ S3 requests? \$[\d.]+, \d+ DynamoDB write units? \$[\d.]+\)/);
    expect(text).toContain(`Keys       ${runKeys(dry.json.runId).planned}: one line per object`);
  }, 120_000);
});

describe('nightshift local, other cases', () => {
  it('--import copies a folder into the corpus, keys = relative paths', async () => {
    const folder = join(data, 'my-photos');
    mkdirSync(join(folder, 'trip', 'day 1'), { recursive: true });
    writeFileSync(join(folder, 'trip', 'day 1', 'beach.jpg'), await photoJpeg(800, 600, 1));
    writeFileSync(join(folder, 'cover.jpg'), await photoJpeg(600, 800, 2));
    writeFileSync(join(folder, '.DS_Store'), 'junk');
    const run = await cli(['local', '--data-dir', join(data, 'imported'), '--json', '--import', folder]);
    expect(run.code).toBe(0);
    expect(run.json.counts).toMatchObject({ listed: 2, due: 2, rendered: 2 });
    expect(run.stderr).toContain('Imported 2 file(s)');
  }, 120_000);

  it('warns when a prefix matches nothing, and names the nearest prefix that exists', async () => {
    for (const [prefix, expected] of [
      ['phtos/', 'Nothing done: No object matched the prefix "phtos/"; the nearest existing prefix is "photos/".'],
      ['/photos/', 'Nothing done: No object matched the prefix "/photos/" (S3 keys do not start with "/"); the nearest existing prefix is "photos/".'],
    ]) {
      const run = await local(['--prefix', prefix!]);
      expect(run.code).toBe(0);
      const { text } = await readEml(readFileSync(run.json.email!, 'utf8'));
      expect(text.split('\n')[0]).toBe(expected);
      expect(readFileSync(run.json.email!, 'utf8')).toContain(`Subject: nightshift: WARNING, no object matched prefix ${prefix}`);
    }
  }, 120_000);

  it('a failing run (the corpus bucket is missing) ends in the failure email and exit 1', async () => {
    const empty = await startTestS3([]);
    try {
      const run = await cli(['local', '--data-dir', join(data, 'failing'), '--json', '--endpoint', empty.endpoint]);
      expect(run.code).toBe(1);
      expect(run.json).toMatchObject({ status: 'FAILED', report: null });
      expect(run.json.history.slice(-3)).toEqual(['Plan', 'Failed in Plan', 'NotifyFailure']); // failed at a redrivable Task
      const body = (await readEml(readFileSync(run.json.email!, 'utf8'))).text;
      expect(body.split('\n')[0]).toMatch(/^Run failed in Plan: States\.TaskFailed\./);
      expect(body).toContain('exited with code 1 after 3 attempt(s)');
      // What a local user does: run the command again; no console, no redrive, no deploy.
      expect(body).toContain('Fix the cause, then run nightshift local again: it redoes only what is missing.');
      expect(body).not.toMatch(/redrive|stepfunctions|deploy/i);
    } finally {
      await empty.stop();
    }
  }, 120_000);
});

describe('nightshift local serve during a run', () => {
  it('is the one owner of the data: a run started meanwhile uses its servers (S3 and DynamoDB), and the serve shows the run\'s writes at once', async () => {
    const serve = spawn(process.execPath, [require.resolve('tsx/cli'), '--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/nightshift.ts'), 'local', 'serve', '--json', '--data-dir', join(data, '.nightshift')], { cwd: data, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [line] = (await once(createInterface({ input: serve.stdout! }), 'line')) as [string];
      const { endpoint, dynamodb } = JSON.parse(line) as { endpoint: string; dynamodb: string };
      const s3 = createS3Client({ endpoint, maxAttempts: 2 }, {});
      // The run makes the records' table where it keeps them if it is missing: dropped here, it
      // reappears on the serve's DynamoDB only if the run used that one.
      const dynamo = createDynamoClient({ endpoint: dynamodb, maxAttempts: 2 }, {});
      await dynamo.send(new DeleteTableCommand({ TableName: IMAGES_TABLE_NAME }));
      const body = await photoJpeg(500, 400, 77);
      await s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: 'served/new.jpg', Body: body, ContentType: 'image/jpeg' }));
      const run = await local();
      expect(run.code).toBe(0);
      const owner = readFileSync(join(data, '.nightshift', 's3.lock'), 'utf8');
      expect(JSON.parse(owner)).toEqual({ pid: expect.any(Number), role: 'serve', endpoint, dynamodb });
      expect(run.stderr).toContain(`Using the S3 data of nightshift local serve (pid ${JSON.parse(owner).pid}) on ${endpoint}, and its image records on ${dynamodb}`);
      expect((await dynamo.send(new DescribeTableCommand({ TableName: IMAGES_TABLE_NAME }))).Table?.TableStatus).toBe('ACTIVE');
      dynamo.destroy();
      // Read through the serve, with the SDK's checksum validation: the backup and every rendition of the new image.
      const backup = await s3.send(new GetObjectCommand({ Bucket: B.backup, Key: 'served/new.jpg', ChecksumMode: 'ENABLED' }));
      expect(Buffer.from(await backup.Body!.transformToByteArray()).equals(body)).toBe(true);
      const renditions: string[] = [];
      for await (const page of listPages(s3, { bucket: B.renditions })) renditions.push(...page.objects.map((o) => o.Key!).filter((k) => k.includes('/served/new.')));
      expect(renditions.length).toBeGreaterThan(0);
      for (const key of renditions) expect((await sharp(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: key }))).Body!.transformToByteArray())).metadata()).width).toBeGreaterThan(0);
      // A second serve of the same data is refused, naming the first.
      const second = await cli(['local', 'serve', '--data-dir', join(data, '.nightshift')]);
      expect(second.stderr).toContain(`nightshift local serve (pid ${JSON.parse(owner).pid}) is serving`);
      s3.destroy();
    } finally {
      serve.kill('SIGTERM');
      const [code] = (await once(serve, 'exit')) as [number | null];
      expect(code).toBe(0);
    }
    expect(existsSync(join(data, '.nightshift', 's3.lock'))).toBe(false);
  }, 300_000);
});

describe('one configuration for both runtimes', () => {
  // nightshift local reads what cdk synth reads: cdk.json's context.nightshift (or --config, a
  // file in its shape), then -c nightshift.<key>=<JSON value> overrides.
  it('renders the presets of a --config file, with -c overrides, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-config-'));
    try {
      mkdirSync(join(dir, 'pics'));
      writeFileSync(join(dir, 'pics', 'a.jpg'), await photoJpeg(400, 300, 11));
      writeFileSync(join(dir, 'staging.json'), JSON.stringify({ presets: [{ name: 'tiny', width: 64, formats: ['jpeg'] }, { name: 'mid', width: 200, formats: ['webp'] }] }));
      const run = await runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '--import', join(dir, 'pics'), '--config', join(dir, 'staging.json'), '-c', 'nightshift.presets=[{"name":"tiny","width":48,"formats":["jpeg"]}]'], { cwd: dir });
      expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-1500) }).toEqual({ code: 0, stderr: '' });
      const server = await startTestS3([], join(dir, '.nightshift', 's3'));
      try {
        expect(await keys(server, B.renditions)).toEqual(['tiny/a.jpeg']);
        const tiny = await server.s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: 'tiny/a.jpeg' }));
        expect((await sharp(Buffer.from(await tiny.Body!.transformToByteArray())).metadata()).width).toBe(48);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('stops on a bad configuration value with one line naming the key, exit 2', async () => {
    const run = await cli(['local', '-c', 'nightshift.resize.webpEffort=9']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      'nightshift: -c nightshift.resize.webpEffort: nightshift.resize.webpEffort = 9: expected a number <= 6. Give -c nightshift.resize.webpEffort=<JSON value> a valid value, then run the command again.',
    ]);
    const missing = await cli(['local', '--config', join(data, 'no-such.json')]);
    expect({ code: missing.code, line: missing.stderr.trim() }).toEqual({ code: 2, line: expect.stringMatching(/^nightshift: --config \S*no-such\.json: cannot read it \(ENOENT\): give a cdk\.json/) });
  });

  it('names every problem of a configuration file on its own line: the file, the field, the value, the fix; a syntax error by line and column', async () => {
    const file = join(data, 'edited.json');
    // A cdk.json as a newcomer edits it: a misspelt key (leven's nearest known field is suggested), a value out of range.
    writeFileSync(file, JSON.stringify({ context: { nightshift: { resize: { webpEfort: 2 }, shards: { targetObjects: -1 } } } }, null, 2));
    const bad = await cli(['local', '--config', file]);
    expect({ code: bad.code, lines: bad.stderr.trim().split('\n') }).toEqual({
      code: 2,
      lines: expect.arrayContaining([
        `nightshift: ${file}: nightshift.shards.targetObjects = -1: expected a number >= 1. Fix it in ${file} ("context" → "nightshift", or the file's top level), then run the command again.`,
        `nightshift: ${file}: nightshift.resize.webpEfort = 2: no field named "webpEfort" here; did you mean "webpEffort"? Fix it in ${file} ("context" → "nightshift", or the file's top level), then run the command again.`,
      ]),
    });
    expect(bad.stderr.trim().split('\n')).toHaveLength(2);
    // The local user runs nothing of a deployment: no "cdk synth", no "deploy".
    expect(bad.stderr).not.toMatch(/cdk synth|deploy/);
    writeFileSync(file, '{\n  "context": {\n    "nightshift": {\n      "presets": [1,]\n    }\n  }\n}\n');
    const syntax = await cli(['local', '--config', file]);
    expect({ code: syntax.code, lines: syntax.stderr.trim().split('\n') }).toEqual({
      code: 2,
      lines: [`nightshift: --config ${file}: not valid JSON at line 4, column 21 (Unexpected token ']'): correct it there (a comma after the last item, or a missing quote, comma or brace, is the usual cause)`],
    });
  });
});

describe('every night after the first', () => {
  it('completes a presets-limited night on the next normal night, rendering only what is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-partial-'));
    try {
      mkdirSync(join(dir, 'pics'));
      for (const [i, name] of ['a.jpg', 'b.jpg'].entries()) writeFileSync(join(dir, 'pics', name), await photoJpeg(400, 300, 20 + i));
      writeFileSync(join(dir, 'two.json'), JSON.stringify({ presets: [{ name: 'tiny', width: 64, formats: ['jpeg'] }, { name: 'mid', width: 200, formats: ['webp'] }] }));
      const night = (extra: string[]) => runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '--config', join(dir, 'two.json'), ...extra], { cwd: dir });
      const partial = await night(['--import', join(dir, 'pics'), '--presets', 'tiny']);
      expect(partial.code).toBe(0);
      const next = await night([]);
      expect(next.code).toBe(0);
      const server = await startTestS3([], join(dir, '.nightshift', 's3'));
      try {
        // The partial night is promoted with what it did: backups and tiny; mid is still due.
        const first = await getJson<Report>(server.s3, B.work, runKeys(partial.json.runId).report);
        expect({ promoted: first.catalogPromoted, renditions: Object.keys(first.renditions) }).toEqual({ promoted: true, renditions: ['tiny/jpeg'] });
        const second = await getJson<Report>(server.s3, B.work, runKeys(next.json.runId).report);
        expect({ work: second.objects.work, promoted: second.catalogPromoted, renditions: second.renditions }).toEqual({ work: 2, promoted: true, renditions: { 'mid/webp': { count: 2, bytes: expect.any(Number) } } });
        // Known done from the catalogue: no backup is checked again, and tiny is not even looked at.
        expect(second.operations.backup?.skippedByCode).toEqual({ 'up-to-date': 2 });
        expect((await keys(server, B.renditions)).sort()).toEqual(['mid/a.webp', 'mid/b.webp', 'tiny/a.jpeg', 'tiny/b.jpeg']);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('the CLI', () => {
  it.each(['local', 'serve', 'run', 'status', 'history', 'schedule', 'synth'])('%s --help shows usage and examples', async (command) => {
    const run = await cli(command === 'serve' ? ['local', 'serve', '--help'] : [command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: nightshift /);
    expect(run.stdout).toContain('Examples:');
  });

  it('answers bad flags, commands and input with one line and exit 2', async () => {
    for (const [args, message] of [
      [['local', '--frobnicate'], "nightshift: unknown option '--frobnicate' (see nightshift local --help)"],
      [['deploy'], "nightshift: unknown command 'deploy' (see nightshift --help)"],
      // A mistyped command or option gets the nearest one (commander's suggestion).
      [['locl'], "nightshift: unknown command 'locl' (Did you mean local?)"],
      [['local', '--prefx', 'photos/'], "nightshift: unknown option '--prefx' (Did you mean --prefix?)"],
      [['local', 'serve', '--prot', '1'], "nightshift: unknown option '--prot' (Did you mean --port?) (see nightshift local serve --help)"],
      // The CLI speaks of its flags (the console's JSON input keeps its field wording, core/input.test.ts).
      [['local', '--ops', 'rezise'], 'nightshift: --ops: unknown operation "rezise"; did you mean "resize"? Valid: backup, resize'],
      [['local', '--ops', 'backup,xyz'], 'nightshift: --ops: unknown operation "xyz". Valid: backup, resize'],
      [['run', '--ops', 'sort'], '--ops: "sort" is not an operation to choose: every run lists, filters and sorts the corpus'],
      [['local', 'serve', '--port', 'abc'], '--port must be a number from 0 to 65535'],
      [['local', 'serve', '--api-port', '65536'], 'nightshift: --api-port must be a number from 0 to 65535, received "65536"'],
      [['status', 'yesterday'], 'expected an execution ARN or "latest"'],
      [['status', 'latest', 'now'], 'status takes one run'],
      [['local', '--presets', 'thmb'], 'nightshift: --presets: unknown preset "thmb"; did you mean "thumb"? Configured: large, web, small, thumb'],
      [['run', '--presets', ','], 'nightshift: --presets: give at least one preset name'],
      [['local', '--force'], 'nightshift: --force: only with --full'],
      [['local', '--import', join(tmpdir(), 'no-such-folder')], `nightshift: --import: "${join(tmpdir(), 'no-such-folder')}" is not a folder`],
      // A value that starts with "-" is the value; one of the command's own flags is a missing value.
      [['schedule', '--count', '-1'], 'nightshift: --count must be a whole number from 1 to 100, received "-1"'],
      [['local', '--prefix', '--dry-run'], 'nightshift: --prefix: the value is missing: write --prefix <value>'],
      // No AWS configuration at all (HOME has no ~/.aws): name what to set, not "Region is missing".
      [['status', 'latest'], 'nightshift: no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1), or AWS_PROFILE'],
      [['run'], 'nightshift: no AWS region: set AWS_REGION'],
    ] as const) {
      const run = await cli([...args], { HOME: data });
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('names the missing AWS credentials, exit 2', async () => {
    const run = await cli(['status', 'latest'], { HOME: data, AWS_REGION: 'eu-west-1', AWS_EC2_METADATA_DISABLED: 'true' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^nightshift: no AWS credentials: run aws configure .* and try again\n$/);
  });

  it('says what to do when AWS is not reachable', async () => {
    const run = await cli(['run'], { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^nightshift: cannot reach the Step Functions API .*check the network and AWS_REGION\n$/);
  });

  it('prints the next runs of the schedule in ISO 8601, in UTC and the local zone, whatever the locale', async () => {
    const english = await cli(['schedule', '--count', '3'], { TZ: 'Asia/Tokyo' });
    expect(english.code).toBe(0);
    expect(english.stdout).toContain('Schedule: cron(0 2 * * ? *) in UTC (EventBridge rule crons are UTC)');
    expect(english.stdout.match(/^ {2}\d{4}-\d\d-\d\dT02:00:00Z {2}\d{4}-\d\d-\d\dT11:00:00\+09:00 \(Asia\/Tokyo\)$/gm)).toHaveLength(3);
    // A German locale and a half-hour zone: the same form, the offset written out.
    const german = await cli(['schedule', '--count', '3'], { TZ: 'Asia/Kolkata', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' });
    expect(german.code).toBe(0);
    expect(german.stdout.match(/^ {2}\d{4}-\d\d-\d\dT02:00:00Z {2}\d{4}-\d\d-\d\dT07:30:00\+05:30 \(Asia\/(Kolkata|Calcutta)\)$/gm)).toHaveLength(3);
    const utc = await cli(['schedule', '--count', '1'], { TZ: 'UTC', LC_ALL: 'de_DE.UTF-8' });
    expect(utc.stdout).toMatch(/Next run:\n {2}\d{4}-\d\d-\d\dT02:00:00Z\n/);
  });

  it('finishes quietly, exit 0, when its reader has gone (nightshift schedule | true)', async () => {
    // The read end closes before the first line: every write meets EPIPE.
    const run = await runCli(['schedule'], { cwd: data, closedStdout: true });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('prints the synthesized workflow', async () => {
    const run = await cli(['synth']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ StartAt: 'CheckActiveRuns', States: { Plan: { Resource: 'arn:aws:states:::batch:submitJob.sync' } } });
  });
});

describe('--full --force, twice in a row', () => {
  // A forced full run re-encodes every rendition; the same original and recipe give the same bytes
  // (S3 ETags equal, the bodies compared too). Its backups are already current (the backup holds
  // the catalogued version: same ETag, S3 user guide, "Checking object integrity"), so none is
  // copied again: a copy would only add a version to the versioned bucket.
  it('writes byte-identical renditions and copies no backup that is already current', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-force-'));
    try {
      mkdirSync(join(dir, 'pics', 'sub'), { recursive: true });
      for (const [i, name] of ['a.jpg', 'b.jpg', 'sub/c.jpg'].entries()) writeFileSync(join(dir, 'pics', name), await photoJpeg(640 + 40 * i, 480, 40 + i));
      const night = (extra: string[]) => runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), ...extra], { cwd: dir });
      const snapshot = async () => {
        const server = await startTestS3([], join(dir, '.nightshift', 's3'));
        try {
          const bodies: Record<string, string> = {};
          for (const key of await keys(server, B.renditions)) {
            const got = await server.s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: key }));
            bodies[key] = `${got.ETag} ${Buffer.from(await got.Body!.transformToByteArray()).toString('base64')}`;
          }
          const backups: Record<string, string> = {};
          for await (const page of listPages(server.s3, { bucket: B.backup, prefix: '' })) for (const o of page.objects) backups[o.Key!] = `${o.ETag} ${o.LastModified?.toISOString()}`;
          return { bodies, backups };
        } finally {
          await server.stop();
        }
      };
      const first = await night(['--import', join(dir, 'pics')]);
      expect({ code: first.code, backedUp: first.json.counts?.backedUp }).toEqual({ code: 0, backedUp: 3 });
      const forced = [await night(['--full', '--force'])];
      const before = await snapshot();
      forced.push(await night(['--full', '--force']));
      const after = await snapshot();
      expect(forced.map((r) => ({ code: r.code, rendered: r.json.counts?.rendered, backedUp: r.json.counts?.backedUp }))).toEqual([
        { code: 0, rendered: 3, backedUp: 0 },
        { code: 0, rendered: 3, backedUp: 0 },
      ]);
      expect(Object.keys(before.bodies).length).toBeGreaterThanOrEqual(3);
      expect(after.bodies).toEqual(before.bodies);
      expect(after.backups).toEqual(before.backups);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
