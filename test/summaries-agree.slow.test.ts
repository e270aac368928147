/**
 * One story on every surface: the same local nights read from the terminal, the email (the .eml in
 * .nightshift/outbox), report.json and report.html, `status --json` and `history --json` agree on
 * the counts, the outcome and the duration. Four nights: a normal one, one with nothing to do, one
 * whose only work fails, and one of only deletions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { duration } from '../core/format';
import { escapeHtml } from '../core/report-html';
import { type Report, runCounts } from '../core/report';
import type { RunLine } from '../core/run-status';
import { LOCAL_BUCKETS } from '../local/runner';
import { photoJpeg } from '../local/sample/images';
import { readEml } from './support/eml';
import { runCli } from './support/cli';
import { type TestS3, withLocalS3 } from './support/processes';

let data: string;
const dataDir = () => join(data, '.nightshift');

function corpus(change: (s3: TestS3['s3']) => Promise<void>): Promise<void> {
  return withLocalS3(dataDir(), (server) => change(server.s3));
}

/** One night through the CLI, and every surface that tells it. */
async function night(extra: string[] = []) {
  const run = await runCli(['local', '--data-dir', dataDir(), '--json', ...extra], { cwd: data });
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
  const { runId } = run.json;
  const email = await readEml(readFileSync(run.json.email!, 'utf8'));
  const report = JSON.parse(readFileSync(join(dataDir(), 'reports', runId, 'report.json'), 'utf8')) as Report;
  const html = readFileSync(join(dataDir(), 'reports', runId, 'report.html'), 'utf8');
  const status = await runCli(['status', runId, '--local', '--json', '--data-dir', dataDir()], { cwd: data });
  const history = await runCli(['history', '--local', '--json', '--limit', '1', '--data-dir', dataDir()], { cwd: data });
  const line = JSON.parse(status.stdout) as RunLine;
  // The same counts everywhere: the CLI's JSON, report.json, status and history.
  expect(run.json.counts).toEqual(runCounts(report));
  expect(line.counts).toEqual(runCounts(report));
  expect(JSON.parse(history.stdout)).toEqual([line]);
  // The same subject in the terminal, the email and status; the same duration in the email, status and report.json.
  expect(run.stderr).toContain(`Subject: ${email.subject}\n`);
  expect(line.subject).toBe(email.subject);
  expect(line.durationMs).toBe(report.durationMs);
  // Timed from the execution's start, after the CLI's start-up (servers, synth, bundle), which status gives apart.
  expect(line.startedAt).toBe(report.startedAt);
  expect(line.startupMs).toBeGreaterThan(0);
  expect(email.text).toContain(`(${duration(line.durationMs!)})`);
  // The outcome status gives is the email's Status line and report.html's badge; its lead, the email's first line.
  expect(email.text).toContain(`Status     ${line.outcome}\n`);
  expect(html).toContain(`<span class="status">${escapeHtml(line.outcome)}</span>`);
  expect(html).toContain(`<p class="lead">${escapeHtml(email.text.split('\n')[0]!)}</p>`);
  return { email, report, line, terminal: run.stderr };
}

beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'nightshift-agree-'));
  await corpus(async (s3) => {
    for (const b of Object.values(LOCAL_BUCKETS)) await s3.send(new CreateBucketCommand({ Bucket: b }));
    for (const [i, key] of ['a.jpg', 'b.jpg', 'c.jpg'].entries()) await s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKETS.corpus, Key: `photos/${key}`, Body: await photoJpeg(640, 480, i + 1), ContentType: 'image/jpeg' }));
  });
}, 120_000);
afterAll(() => rmSync(data, { recursive: true, force: true }));

describe('terminal, email, report and status tell one story', () => {
  it('a normal night', async () => {
    const { email, line } = await night();
    expect(email.subject).toBe('nightshift: 3 rendered');
    expect(line).toMatchObject({ status: 'SUCCEEDED', outcome: 'SUCCEEDED', counts: { rendered: 3, backedUp: 3, failed: 0, pruned: 0 } });
  }, 300_000);

  it('a night with nothing to do writes a report too', async () => {
    const { email, line, report } = await night();
    expect(email.subject).toBe('nightshift: nothing to do');
    expect(report.status).toBe('NOTHING_TO_DO');
    expect(line).toMatchObject({ outcome: 'NOTHING TO DO', counts: { due: 0, rendered: 0, failed: 0 } });
  }, 300_000);

  it('a night whose only work fails: never a plain SUCCEEDED', async () => {
    const jpeg = await photoJpeg(640, 480, 9);
    await corpus(async (s3) => {
      await s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKETS.corpus, Key: 'photos/cut.jpg', Body: jpeg.subarray(0, jpeg.length / 2), ContentType: 'image/jpeg' }));
    });
    const { email, line } = await night();
    expect(email.subject).toBe('nightshift: 1 backed up, 1 failed');
    expect(line).toMatchObject({ outcome: 'SUCCEEDED with 1 failed', counts: { due: 1, rendered: 0, failed: 1 } });
    expect(email.text).toContain('resize  jpeg-truncated');
    expect(email.text).toContain('the JPEG is truncated: the file ends before the image data does');
  }, 300_000);

  it('a night of only deletions says what it pruned, and renders nothing', async () => {
    await corpus(async (s3) => {
      await s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.corpus, Key: 'photos/a.jpg' }));
    });
    const { email, line, report, terminal } = await night(['--confirm-prune']);
    const renditions = report.prune.renditions;
    expect(renditions).toBeGreaterThan(0);
    expect(email.subject).toBe(`nightshift: ${renditions} renditions of 1 deleted original pruned`);
    expect(line).toMatchObject({ counts: { rendered: 0, pruned: 1, prunedRenditions: renditions } });
    expect(email.text).toMatch(/^Resize {5}0 rendered,/m);
    expect(terminal).toContain('ImagesProcessed 0');
  }, 300_000);
});
