/**
 * report.html as a person sees it: rendered in headless Chromium (Debian's, driven by
 * playwright-core; installed by scripts/lib/chromium.ts when missing). The report is built the way
 * aggregate builds it: real renditions in the embedded S3 server, the gallery collected from them
 * by collectGallery, and the page rendered by renderReportHtml.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Browser } from 'playwright-core';
import { parsePipelineConfig } from '../core/config';
import { FORMAT_CONTENT_TYPE, renditionKey, runKeys } from '../core/keys';
import { buildReport } from '../core/report';
import { renderReportHtml } from '../core/report-html';
import type { ShardResult } from '../core/results';
import { putText } from '../adapters/s3';
import { collectGallery } from '../functions/gallery';
import { render, renderOptionsOf } from '../adapters/image/render';
import { launchChromium } from '../scripts/lib/chromium';
import { photoJpeg } from '../local/sample/images';
import { samplePlan } from './support/fixtures';
import { startTestS3, type TestS3 } from './support/processes';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const config = parsePipelineConfig({ buckets });
// Keys a real bucket holds: one very long, and two that differ only by Unicode normalization.
const CAFE_NFC = 'photos/caf\u00e9.jpg';
const CAFE_NFD = 'photos/cafe\u0301.jpg';
const LONG = `archive/${Array.from({ length: 12 }, (_, i) => `department-${i}_subfolder`).join('/')}/IMG_20261122_020000_final_version_approved.jpg`;
const KEYS = ['photos/harbour.jpg', 'photos/ridge.jpg', 'photos/ünïcode <b>.jpg', 'photos/broken.jpg', CAFE_NFC, CAFE_NFD, LONG];
const FAILED = KEYS.slice(3);

let server: TestS3;
let browser: Browser;
let dir: string;
let reportPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-report-'));
  server = await startTestS3(Object.values(buckets));
  browser = await launchChromium();
  const plan = samplePlan({ runId: 'run-browser', presets: config.presets.map((p) => p.name), shardCount: 2, counts: { listed: 5, selected: 4, new: 4, changed: 0, unchanged: 0, deleted: 0, work: 4, skipped: { 'not-an-image': 1 } } });
  // Three images rendered for real; the fourth failed.
  const outputs: Record<string, { count: number; bytes: number }> = {};
  for (const [i, key] of KEYS.slice(0, 3).entries()) {
    const { renditions } = await render(await photoJpeg(1600, 1200, 40 + i), config.presets, { ...renderOptionsOf(config), webpEffort: 2, avifEffort: 2 });
    for (const r of renditions) {
      await server.s3.send(new PutObjectCommand({ Bucket: buckets.renditions, Key: renditionKey(r.preset, key, r.format), Body: r.data, ContentType: FORMAT_CONTENT_TYPE[r.format], Metadata: { width: String(r.width), height: String(r.height) } }));
      const o = (outputs[`${r.preset}/${r.format}`] ??= { count: 0, bytes: 0 });
      o.count++;
      o.bytes += r.data.length;
    }
  }
  const manifest = (keys: string[]) => keys.map((key) => `${JSON.stringify({ key, size: 1000, etag: '"e"', lastModified: '2026-11-22T00:00:00.000Z', storageClass: 'STANDARD', change: 'new' })}\n`).join('');
  await putText(server.s3, buckets.work, runKeys(plan.runId).shard(0), manifest(KEYS.slice(0, 2)), 'application/x-ndjson');
  await putText(server.s3, buckets.work, runKeys(plan.runId).shard(1), manifest(KEYS.slice(2)), 'application/x-ndjson');
  const result = (operation: 'backup' | 'resize', shard: number, keys: string[], failed: string[], skips = false): ShardResult => ({
    runId: plan.runId,
    operation,
    shard,
    attempt: 1,
    dryRun: false,
    startedAt: '2026-11-22T02:00:10.000Z',
    finishedAt: '2026-11-22T02:03:10.000Z',
    durationMs: (shard + 1) * 60_000,
    // Resize skipped one more image (too large to decode): a skip summarised by reason.
    counts: { items: keys.length + (skips ? 1 : 0), processed: keys.length - failed.length, skipped: skips ? 1 : 0, failed: failed.length },
    bytesRead: 9_000_000,
    bytesWritten: operation === 'resize' && shard === 0 ? Object.values(outputs).reduce((n, o) => n + o.bytes, 0) : 0,
    ...(operation === 'resize' && shard === 0 ? { outputs } : {}),
    skipped: skips ? [{ key: 'photos/huge.tif', code: 'too-large', message: '9 GB, larger than filter.maxBytes' }] : [],
    ...(skips ? { skippedByCode: { 'too-large': 1 } } : {}),
    failures: failed.map((key) => ({ key, code: 'decode-failed', message: 'VipsJpeg: premature end of JPEG file', retryable: false })),
  });
  const results = [result('backup', 0, KEYS.slice(0, 2), []), result('backup', 1, KEYS.slice(2), []), result('resize', 0, KEYS.slice(0, 2), []), result('resize', 1, KEYS.slice(2), FAILED, true)];
  const report = buildReport(plan, results, { trigger: 'schedule', startedAt: '2026-11-22T02:00:00.000Z', finishedAt: '2026-11-22T02:05:00.000Z', catalogPromoted: true });
  const gallery = await collectGallery(server.s3, config, plan, report);
  reportPath = join(dir, 'report.html');
  writeFileSync(reportPath, renderReportHtml(report, { gallery }));
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('report.html in headless Chromium', () => {
  it('loads from disk with no console error and no request but its own file', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('data:'))).toEqual([pathToFileURL(reportPath).href]);
    await page.close();
  });

  it('shows the status, the totals, the charts, the gallery thumbnails and the failures', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(reportPath).href);
    expect(await page.locator('h1 .status').first().textContent()).toBe(`SUCCEEDED with ${FAILED.length} failed`);
    const resizeRow = page.locator('table tr', { has: page.locator('th', { hasText: /^resize$/ }) });
    expect((await resizeRow.locator('td').allTextContents()).slice(0, 4)).toEqual(['3', '0', '1', String(FAILED.length)]);
    // Three charts (time per shard for each operation, rendition bytes) and the failure reasons: bars with width.
    const charts = page.locator('svg[role=img]');
    expect(await charts.count()).toBe(4);
    for (let i = 0; i < 4; i++) expect((await charts.nth(i).locator('rect').first().boundingBox())!.width).toBeGreaterThan(0);
    expect(await page.locator('svg[role=img] text', { hasText: 'thumb/webp' }).count()).toBe(1);
    // Every processed image of the sample has a decoded thumbnail; the failed one a tile with its reason.
    const thumbs = page.locator('.gallery img');
    expect(await thumbs.count()).toBe(3);
    // (Runs in the page; typed structurally, as the project compiles without the DOM library.)
    const sizes = await thumbs.evaluateAll((imgs) => imgs.map((img) => [(img as unknown as { complete: boolean }).complete, (img as unknown as { naturalWidth: number }).naturalWidth]));
    expect(sizes).toEqual([
      [true, 320],
      [true, 320],
      [true, 320],
    ]);
    expect(await page.locator('.tile .key', { hasText: 'photos/ünïcode <b>.jpg' }).count()).toBe(1);
    expect(await page.locator('.tile.failed').first().textContent()).toContain('jpeg-truncated: the JPEG is truncated: the file ends before the image data does');
    expect((await page.locator('#failures ~ table td.key').allTextContents()).length).toBe(FAILED.length);
    expect(await page.locator('a[href="failures.csv"]').count()).toBe(1);
    await page.close();
  });

  it('reads from the top: failures with their readable reason first, skips summarised by reason, the gallery collapsible below', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(reportPath).href);
    const top = async (selector: string) => (await page.locator(selector).first().boundingBox())!.y;
    const [failures, skipped, gallery, operations] = [await top('#failures'), await top('#skipped'), await top('#gallery'), await top('h2:text-is("Operations")')];
    expect(failures).toBeLessThan(skipped);
    expect(skipped).toBeLessThan(gallery);
    expect(gallery).toBeLessThan(operations);
    // The first failure is on the first screen, its readable reason shown and the raw message folded away.
    expect(failures).toBeLessThan(900);
    const first = page.locator('#failures ~ table tr', { has: page.locator('td.key') }).first();
    expect(await first.locator('td').nth(1).textContent()).toBe('jpeg-truncated');
    const raw = first.locator('details.raw pre');
    expect(await raw.isVisible()).toBe(false);
    await first.locator('details.raw summary').click();
    expect(await raw.textContent()).toBe('VipsJpeg: premature end of JPEG file');
    expect(await raw.isVisible()).toBe(true);
    // Skips by reason with a count, the keys folded; not a table of every key at the bottom.
    const skipRow = page.locator('#skipped ~ table tr', { has: page.locator('code', { hasText: 'too-large' }) });
    expect((await skipRow.locator('td').allTextContents()).slice(0, 3)).toEqual(['resize', 'too-large', '1']);
    expect(await page.locator('#skipped ~ table .key', { hasText: 'photos/huge.tif' }).isVisible()).toBe(false);
    // The gallery folds away in one click.
    expect(await page.locator('#gallery .gallery img').first().isVisible()).toBe(true);
    await page.locator('#gallery > summary').click();
    expect(await page.locator('#gallery .gallery img').first().isVisible()).toBe(false);
    await page.close();
  });

  it('shows real keys readably: long ones wrap at separators and cut in the middle, unseen differences as escapes', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(reportPath).href);
    const cell = (key: string) => page.locator(`#failures ~ table td.key:has(span[title="${key.replaceAll('\u0301', '\\\\u0301')}"])`);
    // NFC and NFD "café" look the same as text; the report tells them apart.
    expect(await cell(CAFE_NFC).textContent()).toBe('photos/café.jpg');
    expect(await cell(CAFE_NFD).textContent()).toBe('photos/cafe\\u0301.jpg');
    // The long key: its start and end, the full key on hover, a few lines at most (not a character a line).
    const long = cell(LONG);
    expect(await long.locator('span.key').getAttribute('title')).toBe(LONG);
    const text = (await long.textContent())!;
    expect(text.startsWith('archive/department-0_subfolder/')).toBe(true);
    expect(text.endsWith('_final_version_approved.jpg')).toBe(true);
    expect(text).toContain('…');
    const box = (await long.boundingBox())!;
    const lineHeight = await long.evaluate((el) => parseFloat((globalThis as unknown as { getComputedStyle(e: unknown): { lineHeight: string } }).getComputedStyle(el).lineHeight));
    expect(box.width).toBeGreaterThan(200);
    expect(box.height / lineHeight).toBeLessThanOrEqual(6);
    // Its gallery card stays the size of the others.
    const tiles = await page.locator('.tile.failed').evaluateAll((els) => els.map((el) => (el as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height));
    expect(Math.max(...tiles)).toBeLessThan(2 * Math.min(...tiles));
    await page.close();
  });
});
