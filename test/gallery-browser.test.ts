/**
 * /gallery as a person sees it (issue 28, "See it"): the page of local/gallery-page.ts in headless
 * Chromium (scripts/lib/chromium.ts, as the report's browser test), over a tiny loopback server
 * that serves the page, the image API's handler (functions/images-api.ts through eventForRequest,
 * as `local serve` mounts it) over records built by the record builders with real ThumbHashes,
 * and real JPEG/WebP renditions made by sharp here. Rendition responses are held until the test
 * has looked at the page with none loaded, then released one at a time, slowly, so the images
 * arrive at several moments while the layout-shift observer watches.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { failedRecord, renderedRecord, skippedRecord, sourceDetails, sourceHeaderOf, type ImageRecord, type WrittenRendition } from '../core/records/record';
import { MemoryRecordStore } from '../core/records/store';
import { FORMAT_CONTENT_TYPE } from '../core/keys';
import { eventForRequest, imagesApi } from '../functions/images-api';
import { placeholderFrom } from '../adapters/image/placeholder';
import { galleryPage } from '../local/gallery-page';
import { photoJpeg } from '../local/sample/images';
import { launchChromium } from '../scripts/lib/chromium';

const RENDITIONS = '/renditions';
const CDN = '/cdn';
const SLOW_MS = 300;
/** Landscape, portrait, square, panorama, one with a delivery URL (its record carries `url`), one in a subfolder. */
const IMAGES = [
  { key: 'photos/harbour view.jpg', width: 1200, height: 800 },
  { key: 'photos/ridge+ünï "q".jpg', width: 800, height: 1200 },
  { key: 'photos/square.jpg', width: 900, height: 900 },
  { key: 'photos/wide.jpg', width: 1500, height: 500 },
  { key: 'photos/via-cdn.jpg', width: 1000, height: 750, delivered: true },
  { key: 'photos/2026/deep.jpg', width: 700, height: 1000 },
];
const item = (key: string) => ({ key, etag: '"e"', size: 1000, lastModified: '2026-12-01T21:14:03.000Z' });
const FAILED = failedRecord(item('photos/broken.jpg'), { code: 'decode-failed', message: 'VipsJpeg: premature end of JPEG file' }, { runId: 'r1', updatedAt: '2026-12-02T02:10:44Z' });
const SKIPPED = skippedRecord(item('photos/frozen.jpg'), { code: 'archived' }, { runId: 'r1', updatedAt: '2026-12-02T02:10:44Z' });
/** A folder longer than a screen and then some: its pages are asked for as the reader scrolls. */
const MANY = Array.from({ length: 60 }, (_, i) => skippedRecord(item(`many/${String(i).padStart(3, '0')}.jpg`), { code: 'archived' }, { runId: 'r1', updatedAt: '2026-12-02T02:10:44Z' }));

interface Held {
  readonly path: string;
  release(): void;
}

/** The page, the API and the renditions on one loopback port; rendition responses wait for `open` (then SLOW_MS each). */
class GalleryServer {
  readonly bytes = new Map<string, { body: Buffer; contentType: string }>();
  readonly held: Held[] = [];
  open = false;
  base = '';
  private server?: Server;

  constructor(private readonly store: MemoryRecordStore) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.answer(req, res).catch((e: Error) => res.writeHead(500).end(e.message)));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url!;
    if (url === '/gallery' || url.startsWith('/gallery?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(galleryPage({ apiBase: `${this.base}/api/`, renditionsBase: `${this.base}${RENDITIONS}`, pageSize: 2 }));
    } else if (url.startsWith('/api/')) {
      const result = await imagesApi(this.store)(eventForRequest(req.method!, url.slice('/api'.length)));
      res.writeHead(result.statusCode, result.headers).end(result.body);
    } else if (this.bytes.has(url.split('?')[0]!)) {
      if (!this.open) await new Promise<void>((release) => this.held.push({ path: url, release }));
      await sleep(SLOW_MS);
      const { body, contentType } = this.bytes.get(url.split('?')[0]!)!;
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length }).end(body);
    } else {
      res.writeHead(404).end();
    }
  }
}

/** An image's renditions (320 and 640 wide, JPEG and WebP, as the resize writes them) and its record. */
async function renderImage(server: GalleryServer, spec: (typeof IMAGES)[number], seed: number): Promise<ImageRecord> {
  const source = await photoJpeg(spec.width, spec.height, seed);
  const written: WrittenRendition[] = [];
  for (const [preset, width] of [['thumb', 320], ['small', 640]] as const) {
    for (const format of ['jpeg', 'webp'] as const) {
      const { data, info } = await sharp(source).resize(width, width, { fit: 'inside' }).toFormat(format).toBuffer({ resolveWithObject: true });
      const key = `${preset}/${spec.key.replace(/\.jpg$/, '')}.${format === 'jpeg' ? 'jpg' : format}`;
      const path = `${spec.delivered ? CDN : RENDITIONS}/${key.split('/').map(encodeURIComponent).join('/')}`;
      server.bytes.set(path, { body: data, contentType: FORMAT_CONTENT_TYPE[format] });
      written.push({ preset, format, key, width: info.width, height: info.height, bytes: data.length, etag: '"r"' });
    }
  }
  const details = sourceDetails(sourceHeaderOf(await sharp(source).metadata()));
  const context = { runId: 'r1', updatedAt: '2026-12-02T02:10:44Z', ...(spec.delivered ? { deliveryBaseUrl: `${server.base}${CDN}` } : {}) };
  return renderedRecord(item(spec.key), details, await placeholderFrom(source), written, context);
}

// Runs in the page (a string: the project compiles without the DOM library): the layout-shift
// score as web.dev defines CLS's parts, the sum of the entries' values without recent input.
const WATCH_LAYOUT_SHIFT = `
  window.__shifts = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push({ value: e.value, from: e.sources.map((s) => s.node && s.node.textContent || s.node && s.node.nodeName) });
  }).observe({ type: 'layout-shift', buffered: true });
`;
// The control: the same page with nothing reserving the images' boxes (their width and height
// attributes dropped, and the aspect ratio the page pins from them overridden).
const DROP_IMAGE_SIZES = `
  const set = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) { if (this.tagName === 'IMG' && (name === 'width' || name === 'height')) return; return set.call(this, name, value); };
  document.addEventListener('DOMContentLoaded', () => document.head.append(Object.assign(document.createElement('style'), { textContent: 'img { aspect-ratio: auto !important; }' })));
`;

interface ImgState {
  key: string;
  complete: boolean;
  naturalWidth: number;
  currentSrc: string;
  background: string;
  ratio: number;
  top: number;
}

const imgStates = (page: Page): Promise<ImgState[]> =>
  page.locator('.grid img').evaluateAll((imgs) =>
    imgs.map((node) => {
      const img = node as unknown as { alt: string; complete: boolean; naturalWidth: number; currentSrc: string; style: { backgroundImage: string }; getBoundingClientRect(): { width: number; height: number; top: number } };
      const box = img.getBoundingClientRect();
      return { key: img.alt, complete: img.complete, naturalWidth: img.naturalWidth, currentSrc: img.currentSrc, background: img.style.backgroundImage, ratio: box.width / box.height, top: box.top };
    }),
  );
const captionTops = (page: Page) => page.locator('.grid .key').evaluateAll((els) => els.map((el) => (el as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top));
const layoutShift = async (page: Page) => ((await page.evaluate('window.__shifts')) as { value: number }[]).reduce((sum, s) => sum + s.value, 0);

async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const TOP_FOLDER = IMAGES.filter((i) => !i.key.startsWith('photos/2026/'));
let server: GalleryServer;
let browser: Browser;
let records: ImageRecord[];

beforeAll(async () => {
  const store = new MemoryRecordStore();
  server = new GalleryServer(store);
  await server.start();
  records = await Promise.all(IMAGES.map((spec, i) => renderImage(server, spec, 40 + i)));
  for (const r of [...records, FAILED, SKIPPED, ...MANY]) store.put(r);
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens photos/ with every rendition held: all pages listed, every image asked for, none answered. */
async function openHeld(extraInit?: string): Promise<{ page: Page; requests: string[]; problems: string[] }> {
  server.open = false;
  server.held.length = 0;
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  if (extraInit) await page.addInitScript(extraInit);
  await page.addInitScript(WATCH_LAYOUT_SHIFT);
  await page.goto(`${server.base}/gallery?prefix=${encodeURIComponent('photos/')}`);
  await waitFor('every page of photos/ listed', async () => (await page.locator('.grid .tile').count()) === TOP_FOLDER.length + 2);
  await waitFor('every image requested', () => server.held.length === TOP_FOLDER.length);
  return { page, requests, problems };
}

/** Lets the held renditions go one by one, so they load at several moments, and waits until every image has loaded. */
async function releaseAll(page: Page): Promise<void> {
  server.open = true;
  for (const held of server.held.splice(0)) {
    held.release();
    await sleep(SLOW_MS / 2);
  }
  await waitFor('every image loaded', async () => (await imgStates(page)).every((s) => s.complete));
}

describe('/gallery in headless Chromium', () => {
  it('paints every placeholder in a reserved box, then shows every image without moving anything', async () => {
    const { page, requests, problems } = await openHeld();
    // Nothing loaded yet: each image's box has its record's shape and the ThumbHash painted in it.
    const before = await imgStates(page);
    expect(before.map((s) => s.key)).toEqual(TOP_FOLDER.map((i) => i.key).sort());
    for (const s of before) {
      const spec = IMAGES.find((i) => i.key === s.key)!;
      expect(s.complete).toBe(false);
      expect(s.background).toMatch(/^url\("data:image\/png;base64,/);
      expect(s.ratio).toBeCloseTo(spec.width / spec.height, 1);
    }
    const tops = await captionTops(page);

    await releaseAll(page);
    const after = await imgStates(page);
    for (const s of after) {
      expect(s.naturalWidth).toBeGreaterThan(0);
      // From the record: its own `url` when it has one, else the renditions base.
      const record = records.find((r) => r.key === s.key)!;
      expect(record.renditions.map((r) => r.url ?? `${server.base}${RENDITIONS}/${r.key.split('/').map(encodeURIComponent).join('/')}`)).toContain(s.currentSrc);
      expect(s.background).toBe('none');
    }
    expect(after.find((s) => s.key === 'photos/via-cdn.jpg')!.currentSrc.startsWith(`${server.base}${CDN}/`)).toBe(true);
    expect(await layoutShift(page)).toBe(0);
    // Stricter than the score, which counted nothing when rows moved 0.33 px (the boxes following
    // the loaded renditions' rounded sizes): not a fraction of a pixel.
    expect(after.map((s) => s.top)).toEqual(before.map((s) => s.top));
    expect(await captionTops(page)).toEqual(tops);
    // Nothing but the loopback server: no CDN for the decoder, no font, no analytics.
    expect(requests.filter((url) => !url.startsWith(`${server.base}/`))).toEqual([]);
    // No script error, and nothing its Content-Security-Policy had to refuse.
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the layout-shift measure sees shifts: without width and height on the images the page moves as they load', async () => {
    const { page } = await openHeld(DROP_IMAGE_SIZES);
    expect(await page.locator('.grid img[width]').count()).toBe(0);
    await releaseAll(page);
    expect(await layoutShift(page)).toBeGreaterThan(0);
    await page.close();
  });

  it('shows the reason of a failed and of a skipped image, the counts, and the folders to go up to', async () => {
    const { page } = await openHeld();
    expect(await page.locator('.tile.failed .reason').innerText()).toBe('Failed\ndecode-failed: VipsJpeg: premature end of JPEG file');
    expect(await page.locator('.tile.skipped .reason').innerText()).toBe(`Skipped\narchived: ${SKIPPED.reason!.message}`);
    expect(await page.locator('#status').textContent()).toBe(`${TOP_FOLDER.length + 2} images in photos/ (${TOP_FOLDER.length} rendered, 1 failed, 1 skipped).`);
    expect(await page.locator('#crumbs a').allTextContents()).toEqual(['All folders', 'photos']);
    await releaseAll(page);
    await page.close();
  });

  it('asks for the next page only as the reader nears the end, and lists every record once, in key order', async () => {
    server.open = true;
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${server.base}/gallery?prefix=many%2F`);
    await page.locator('#status', { hasText: 'more load as you scroll' }).waitFor();
    await page.waitForLoadState('networkidle');
    const shown = await page.locator('.grid .tile').count();
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(MANY.length);
    await waitFor('every page listed while scrolling', async () => {
      await page.mouse.wheel(0, 2000);
      return (await page.locator('.grid .tile').count()) === MANY.length;
    });
    expect(await page.locator('.grid .tile').evaluateAll((els) => els.map((el) => (el as unknown as { dataset: { key: string } }).dataset.key))).toEqual(MANY.map((r) => r.key));
    expect(await page.locator('#status').textContent()).toBe(`${MANY.length} images in many/ (0 rendered, 0 failed, ${MANY.length} skipped).`);
    await page.close();
  });

  it("shows the API's refusal in full", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const prefix = `${'deep/'.repeat(210)}`;
    await page.goto(`${server.base}/gallery?prefix=${encodeURIComponent(prefix)}`);
    const status = page.locator('#status.error');
    await status.waitFor();
    expect(await status.textContent()).toMatch(/^Could not list deep\/.*: the image API answered 400: query parameter prefix: received .*; a prefix is at most 1024 bytes of UTF-8, as an S3 key is$/);
    // All of it on screen, not cut to one line.
    const box = (await status.boundingBox())!;
    expect(box.height).toBeGreaterThan(3 * 16);
    await page.close();
  });

  it('lists a subfolder by its own prefix, and the top folder as empty', async () => {
    server.open = true;
    const page = await browser.newPage();
    await page.goto(`${server.base}/gallery?prefix=${encodeURIComponent('photos/2026')}`);
    await page.locator('.grid img').waitFor();
    await waitFor('the image loaded', async () => (await imgStates(page)).every((s) => s.complete && s.naturalWidth > 0));
    expect((await imgStates(page)).map((s) => s.key)).toEqual(['photos/2026/deep.jpg']);
    expect(await page.locator('#crumbs a').allTextContents()).toEqual(['All folders', 'photos', '2026']);
    await page.locator('#crumbs a', { hasText: 'All folders' }).click();
    await page.locator('#status', { hasText: 'No images directly in the top folder.' }).waitFor();
    await page.close();
  });
});
