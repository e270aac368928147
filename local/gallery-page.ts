/**
 * `/gallery` for `nightshift local serve` (issue 28, "See it"): one HTML page, no framework and no
 * network beyond the image API and the renditions. It lists a folder through the API (following
 * `cursor` pages as the reader scrolls), and shows each image with `<img srcset sizes width height>`
 * from its record's renditions over its ThumbHash, painted until the image loads; failed and
 * skipped images show their reason. The boxes come from the records' width and height, so nothing
 * moves as images arrive (layout shift 0, test/gallery-browser.test.ts).
 *
 * The browser code (local/gallery-client.js) and thumbhash's decoder (an ES module; its file read
 * from node_modules, not fetched from a CDN) are inlined into one module script.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml } from '../core/report-html';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../functions/images-api';

export interface GalleryPageOptions {
  /** The image API's base URL, ending with `/`: `{apiBase}images?prefix=…` lists a folder. */
  readonly apiBase: string;
  /** Where a rendition without a `url` in its record is read: `{renditionsBase}/{key}` (the renditions bucket's URL). */
  readonly renditionsBase: string;
  /** Records asked for a page (the API's `limit`, 1 to its maximum); the API's default when left out. */
  readonly pageSize?: number;
  readonly title?: string;
}

let scripts: { thumbhash: string; client: string } | undefined;

/** Read once per process: thumbhash's source as published (exports kept: a module script allows them) and the page's code. */
function inlineScripts(): { thumbhash: string; client: string } {
  scripts ??= {
    thumbhash: readFileSync(require.resolve('thumbhash'), 'utf8'),
    client: readFileSync(join(__dirname, 'gallery-client.js'), 'utf8'),
  };
  return scripts;
}

/** JSON inside a `<script>`: `<` escaped so no string in it can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** Inline source must not close its `<script>` early (a check, not an escape: it is code). */
function scriptText(source: string, name: string): string {
  if (/<\/script|<!--/i.test(source)) throw new Error(`${name} contains "</script" or "<!--" and cannot be inlined into the gallery page`);
  return source;
}

/**
 * Scripts and styles only its own (inline); data only from the API; images over HTTP(S) (a
 * record's `url` may name any delivery domain) or from the placeholders' data: URLs.
 */
function contentSecurityPolicy(apiBase: string): string {
  const api = /^https?:\/\//i.test(apiBase) ? new URL(apiBase).origin : "'self'";
  return `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src http: https: data:; connect-src ${api}; form-action 'self'; base-uri 'none'`;
}

export function galleryPage(options: GalleryPageOptions): string {
  const { thumbhash, client } = inlineScripts();
  const pageSize = options.pageSize ?? LIST_LIMIT_DEFAULT;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > LIST_LIMIT_MAX) throw new RangeError(`gallery pageSize must be a whole number from 1 to ${LIST_LIMIT_MAX} (the API's limit), received ${pageSize}`);
  const config = {
    apiBase: options.apiBase.endsWith('/') ? options.apiBase : `${options.apiBase}/`,
    renditionsBase: options.renditionsBase,
    pageSize,
  };
  const title = escapeHtml(options.title ?? 'nightshift gallery');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(config.apiBase))}">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<nav aria-label="Folders"><ol id="crumbs" class="crumbs"></ol></nav>
<form id="go" class="go" method="get"><label for="prefix">Folder</label> <input id="prefix" name="prefix" placeholder="photos/2026/" autocomplete="off"> <button type="submit">Show</button></form>
<p id="status" class="status" role="status" aria-live="polite">Loading…</p>
</header>
<main>
<ul id="grid" class="grid" aria-label="Images"></ul>
<div id="more" class="more"></div>
</main>
<script type="module">
${scriptText(thumbhash, 'thumbhash')}
const GALLERY = ${scriptJson(config)};
${scriptText(client, 'local/gallery-client.js')}
</script>
</body>
</html>
`;
}

// Every box that exists before the records arrive has a fixed height, so filling it moves nothing
// below; tiles only ever join the end of the grid.
const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.4; }
body { margin: 0 auto; max-width: 80rem; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
.crumbs { display: flex; gap: .25rem; list-style: none; margin: 0; padding: 0; height: 1.6em; white-space: nowrap; overflow: hidden; }
.crumbs li + li::before { content: "/"; margin-right: .25rem; opacity: .6; }
.go { margin: .5rem 0; height: 2rem; }
.go input { width: 20rem; max-width: 60vw; }
.status { height: 1.4em; margin: .5rem 0 1rem; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.status.error { height: auto; white-space: normal; overflow-wrap: anywhere; color: #d1242f; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1rem; align-items: start; list-style: none; margin: 0; padding: 0; }
.tile { margin: 0; position: relative; }
.tile img { display: block; width: 100%; height: auto; object-fit: cover; background-color: #8884; background-size: cover; background-repeat: no-repeat; border-radius: 4px; }
.tile .reason { aspect-ratio: 4 / 3; margin: 0; padding: .75rem; box-sizing: border-box; overflow: auto; border-radius: 4px; border: 1px dashed currentColor; }
.tile.failed .reason { background: #d1242f1a; }
.tile.skipped .reason { background: #8881; }
.tile .reason strong { display: block; }
.tile .key { margin: .25rem 0 0; font-size: .85rem; overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.tile .note { position: absolute; inset: auto 0 3rem 0; margin: 0; padding: .25rem .5rem; background: #000a; color: #fff; font-size: .85rem; }
.more { height: 1px; }
`;
