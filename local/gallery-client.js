// The /gallery page's code (local/gallery-page.ts inlines it after thumbhash's decoder and the
// GALLERY config: { apiBase, renditionsBase, pageSize }). Plain browser JavaScript, no framework;
// every record's text reaches the page through textContent and setAttribute, never as HTML.

/** Preferred first: the browser takes the first <source> whose type it decodes. */
const SOURCE_FORMATS = ['avif', 'webp'];
const SIZES = '(max-width: 30rem) calc(100vw - 2rem), 20rem';

const grid = document.getElementById('grid');
const status = document.getElementById('status');
const more = document.getElementById('more');
const prefix = prefixOfLocation();
const counts = { rendered: 0, failed: 0, skipped: 0 };
let cursor = null;
let loading = false;

/** The folder to show: ?prefix=…, made a folder (ending with '/') as the API requires. */
function prefixOfLocation() {
  const asked = new URLSearchParams(location.search).get('prefix') ?? '';
  return asked === '' || asked.endsWith('/') ? asked : asked + '/';
}

function showCrumbs() {
  const crumbs = document.getElementById('crumbs');
  const parts = prefix.split('/').slice(0, -1);
  const folders = [{ name: 'All folders', prefix: '' }, ...parts.map((name, i) => ({ name, prefix: parts.slice(0, i + 1).join('/') + '/' }))];
  for (const [i, folder] of folders.entries()) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.textContent = folder.name;
    link.href = '?prefix=' + encodeURIComponent(folder.prefix);
    if (i === folders.length - 1) link.setAttribute('aria-current', 'page');
    item.append(link);
    crumbs.append(item);
  }
  document.getElementById('prefix').value = prefix;
}

/** The record's own URL (a delivery base is configured), else the renditions bucket's, key encoded per segment. */
function urlOf(rendition) {
  if (rendition.url) return rendition.url;
  return GALLERY.renditionsBase.replace(/\/+$/, '') + '/' + rendition.key.split('/').map(encodeURIComponent).join('/');
}

/** `url 320w, url 640w, …` for one format, one candidate per width. */
function srcsetOf(renditions) {
  const byWidth = new Map(renditions.map((r) => [r.width, r]));
  return [...byWidth.values()].sort((a, b) => a.width - b.width).map((r) => urlOf(r) + ' ' + r.width + 'w').join(', ');
}

/** The <img>'s own format: the one every browser decodes (PNG first when the image has alpha). */
function fallbackFormat(record, formats) {
  const order = record.hasAlpha ? ['png', 'webp', 'jpeg', 'avif'] : ['jpeg', 'png', 'webp', 'avif'];
  return order.find((f) => formats.includes(f)) ?? formats[0];
}

/** The ThumbHash as the image's background until it loads (the average colour meanwhile, or if the hash will not decode). */
function paintPlaceholder(img, placeholder) {
  if (!placeholder) return;
  img.style.backgroundColor = placeholder.color;
  try {
    const hash = Uint8Array.from(atob(placeholder.thumbhash), (c) => c.charCodeAt(0));
    img.style.backgroundImage = 'url("' + thumbHashToDataURL(hash) + '")';
  } catch {
    // The colour stays.
  }
}

function imageOf(record) {
  const img = document.createElement('img');
  img.alt = record.key;
  img.title = record.key;
  // The box, from the record, before any byte of the image: width and height give its aspect
  // ratio. Pinned by the style too: from the attributes alone the browser takes the loaded
  // rendition's ratio instead, a fraction of a pixel off (its size is rounded), and the rows move.
  const largest = record.renditions.reduce((a, b) => (b.width > a.width ? b : a));
  const width = record.width ?? largest.width;
  const height = record.height ?? largest.height;
  img.setAttribute('width', String(width));
  img.setAttribute('height', String(height));
  img.style.aspectRatio = width + ' / ' + height;
  img.loading = 'lazy';
  img.decoding = 'async';
  paintPlaceholder(img, record.placeholder);
  img.addEventListener('load', () => {
    // Off once painted: an image with transparency shows what is behind it, not the placeholder.
    img.style.backgroundImage = 'none';
    img.style.backgroundColor = 'transparent';
  });
  img.addEventListener('error', () => noteOn(img.parentElement.closest('.tile'), 'This rendition did not load.'));
  return img;
}

/** <picture>: a <source> per modern format, the <img> with its srcset, sizes, width and height. */
function pictureOf(record) {
  const picture = document.createElement('picture');
  const formats = [...new Set(record.renditions.map((r) => r.format))];
  const fallback = fallbackFormat(record, formats);
  const ofFormat = (format) => record.renditions.filter((r) => r.format === format);
  for (const format of SOURCE_FORMATS.filter((f) => f !== fallback && formats.includes(f))) {
    const source = document.createElement('source');
    source.type = ofFormat(format)[0].contentType;
    source.srcset = srcsetOf(ofFormat(format));
    source.sizes = SIZES;
    picture.append(source);
  }
  const img = imageOf(record);
  const candidates = ofFormat(fallback).sort((a, b) => a.width - b.width);
  img.sizes = SIZES;
  img.srcset = srcsetOf(candidates);
  img.src = urlOf(candidates.find((r) => r.width >= 320) ?? candidates[candidates.length - 1]);
  picture.append(img);
  return picture;
}

function reasonOf(record) {
  const box = document.createElement('p');
  box.className = 'reason';
  const label = document.createElement('strong');
  label.textContent = record.status === 'failed' ? 'Failed' : record.status === 'skipped' ? 'Skipped' : 'No renditions';
  box.append(label, record.reason ? record.reason.code + ': ' + record.reason.message : 'This image has no renditions yet.');
  return box;
}

function noteOn(tile, text) {
  if (!tile || tile.querySelector('.note')) return;
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = text;
  tile.append(note);
}

function tileOf(record) {
  const rendered = record.status === 'rendered' && record.renditions.length > 0;
  const tile = document.createElement('li');
  tile.className = 'tile ' + record.status;
  tile.dataset.key = record.key;
  const caption = document.createElement('p');
  caption.className = 'key';
  caption.textContent = record.key;
  tile.append(rendered ? pictureOf(record) : reasonOf(record), caption);
  if (record.status in counts) counts[record.status]++;
  return tile;
}

function showCounts() {
  const where = prefix === '' ? 'the top folder' : prefix;
  const shown = counts.rendered + counts.failed + counts.skipped;
  if (shown === 0 && cursor === null) return (status.textContent = 'No images directly in ' + where + '.');
  const parts = [counts.rendered + ' rendered', counts.failed + ' failed', counts.skipped + ' skipped'];
  status.textContent = shown + ' images in ' + where + ' (' + parts.join(', ') + ')' + (cursor === null ? '.' : '; more load as you scroll…');
}

/** One page of the folder from the API, its tiles appended; the next is asked when the end of the grid comes near. */
async function loadPage() {
  loading = true;
  const url = GALLERY.apiBase + 'images?prefix=' + encodeURIComponent(prefix) + '&limit=' + GALLERY.pageSize + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
  try {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error('the image API answered ' + response.status + (body.error ? ': ' + body.error.message : ''));
    grid.append(...body.items.map(tileOf));
    cursor = body.cursor;
    showCounts();
  } catch (error) {
    cursor = null;
    status.textContent = 'Could not list ' + (prefix || 'the top folder') + ': ' + error.message;
    status.classList.add('error');
  } finally {
    loading = false;
  }
  // Observing again reports the sentinel's state now: still in view, the next page comes at once.
  if (cursor !== null) {
    nearEnd.unobserve(more);
    nearEnd.observe(more);
  }
}

const nearEnd = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && !loading && cursor !== null) void loadPage();
}, { rootMargin: '1000px 0px' });

showCrumbs();
void loadPage();
