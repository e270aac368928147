/**
 * report.html: one self-contained file (inline CSS, SVG and data: images; no script, and a
 * Content-Security-Policy that forbids any network request) that opens from the S3 console or the
 * local disk and answers "what happened, and do I act?".
 */
import { confirmPruneAdvice, costExtras, dryRunWords, outcomeWords } from './email';
import { adviceOf, explainFailure } from './failures';
import { bytes, count, duration, n, plural, usd, utcMinute } from './format';
import { interruptedWords } from './last-run';
import { operationCounts, outcomeOf, type Report, type ReportFailure, type RunCounts, runCounts, SKIPS_NAMED, skippedTotal, SUPERSEDED_WORDS } from './report';
import { changeWords, invalidationWords } from './records/feed';

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Characters a reader cannot see, or cannot tell apart: controls, format characters (zero-width,
 * bidirectional marks), combining marks (the difference between NFC and NFD "café") and spaces
 * other than the ASCII one.
 */
const UNSEEN = /[\p{Cc}\p{Cf}\p{M}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;
const escapeOf = (c: string) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;

/** Keys longer than this (in characters) show their start and end, the full key on hover. */
export const KEY_SHOWN = 96;

/**
 * An S3 key as a person can read it: line breaks offered after separators (never one character a
 * line), unseen characters shown as \uXXXX escapes, and a long key cut in the middle with the full
 * key (escaped the same way) in its title.
 */
export function keyHtml(key: string): string {
  const chars = [...key];
  const show = (part: string[]) => part.map((c) => (UNSEEN.test(c) ? `<span class="esc">${escapeOf(c)}</span>` : `${escapeHtml(c)}${'/-_.'.includes(c) ? '<wbr>' : ''}`)).join('');
  const full = chars.map((c) => (UNSEEN.test(c) ? escapeOf(c) : c)).join('');
  const body = chars.length > KEY_SHOWN ? `${show(chars.slice(0, KEY_SHOWN - 36))}<span class="cut">…</span>${show(chars.slice(-32))}` : show(chars);
  return `<span class="key" title="${escapeHtml(full)}">${body}</span>`;
}

/** The badge: the outcome the counts give (as `status` prints it), coloured by whether to act. */
function statusBadge(report: Report, counts: RunCounts): { label: string; colour: string } {
  const label = outcomeOf(report, counts);
  if (counts.failed > 0 || counts.held > 0) return { label, colour: '#bf8700' };
  return { label, colour: report.status === 'NOTHING_TO_DO' ? '#57606a' : '#1a7f37' };
}

/** Rows shown in the failures table before the rest is folded away (failures.csv has them all). */
const FAILURE_ROWS_OPEN = 200;
const FAILURE_ROWS_MAX = 5_000;

export interface ReportHtmlOptions {
  /** Link to failures.csv, relative to the report (default: failures.csv beside it). */
  readonly failuresCsvHref?: string;
  /** A sample of processed images with their renditions (collected by aggregate). */
  readonly gallery?: readonly GalleryItem[];
}

/** One processed image: a thumbnail (its smallest rendition, inline) and every rendition written. */
export interface GalleryItem {
  readonly key: string;
  readonly thumbnail?: { readonly dataUri: string; readonly width: number; readonly height: number; readonly rendition: string };
  readonly renditions: readonly { readonly name: string; readonly bytes: number; readonly width?: number; readonly height?: number }[];
}

/** Failed images shown as tiles in the gallery; all of them are in the failures table below. */
const FAILED_TILES = 60;

export function renderReportHtml(report: Report, options: ReportHtmlOptions = {}): string {
  const counts = runCounts(report);
  const status = statusBadge(report, counts);
  const title = `nightshift ${report.runId}`;
  // Read from the top: what to act on (failures, a held prune, warnings), then what was done, then the detail.
  return `${head(title, status.colour)}
<h1>${escapeHtml(title)} <span class="status">${escapeHtml(status.label)}</span>${report.dryRun ? ' <span class="status" style="background:#8250df">Dry run</span>' : ''}</h1>
<p class="meta">Trigger: ${escapeHtml(report.trigger)} · started ${utcMinute(report.startedAt)} · finished ${utcMinute(report.finishedAt)} · ${duration(report.durationMs)} · ${report.prefix ? `prefix <code>${escapeHtml(report.prefix)}</code>` : 'whole corpus'}${report.full ? ' · full run' : ''}</p>
<p class="lead">${escapeHtml(leadWords(report, counts))}</p>
${report.interrupted ? `<p class="notice"><b>Previous run:</b> ${escapeHtml(interruptedWords(report.interrupted))}</p>` : ''}
${attentionSection(report)}
${failuresSection(report, options.failuresCsvHref ?? 'failures.csv')}
<div class="cards">
<div class="card"><b>${n(report.objects.listed)}</b>objects listed</div>
<div class="card"><b>${n(counts.due)}</b>with work due (${n(report.objects.new)} new, ${n(report.objects.changed)} changed)</div>
<div class="card"><b>${n(counts.rendered)}</b>rendered</div>
<div class="card"><b class="${counts.failed ? 'bad' : ''}">${n(counts.failed)}</b>failed</div>
</div>
${report.dryRunPlan ? dryRunSection(report.dryRunPlan) : ''}
${skipsSection(report)}${notesSection(report)}
${gallery(report, options.gallery ?? [])}
${operationsTable(report)}
<h2>Catalogue</h2>
<p>${catalogueWords(report)}</p>
${pruneSection(report)}
${recordsSection(report)}
${shardCharts(report)}
${renditionChart(report)}
</body></html>
`;
}

function head(title: string, colour: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.status{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;background:${colour}}
.meta{color:#57606a}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:130px}.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.bad,b.bad{color:#cf222e;font-weight:600}.key{overflow-wrap:break-word;font-family:ui-monospace,monospace;font-size:13px}td.key{min-width:16em}.key .esc{color:#8250df;background:#fbefff;border-radius:3px}.key .cut{color:#57606a;padding:0 2px}
code{font-size:13px}svg text{font:12px system-ui,sans-serif;fill:#1f2328}details summary{cursor:pointer;margin:8px 0}
details.raw summary{margin:2px 0;color:#57606a;font-size:13px}details.raw pre{white-space:pre-wrap;font-size:12px;margin:4px 0}
details.section>summary{font-size:17px;font-weight:600;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px;margin:0;font-size:12px}
.tile img{display:block;width:100%;height:140px;object-fit:contain;background:#f6f8fa;border-radius:4px}
.tile .none{height:140px;display:flex;align-items:center;justify-content:center;background:#fff1f0;color:#cf222e;border-radius:4px;font-size:28px}
.notice{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px}
.tile figcaption{margin-top:6px}.tile ul{margin:4px 0 0;padding-left:16px;color:#57606a}
</style></head><body>`;
}

/** The email's first sentence, from the same counts. */
function leadWords(report: Report, counts: RunCounts): string {
  if (report.dryRunPlan) return `Dry run: ${dryRunWords(report.dryRunPlan)}.`;
  if (report.status === 'NOTHING_TO_DO') return `Nothing to do: no images with work due among the ${n(report.objects.selected)} selected.`;
  return `${count(counts.due, 'image')} with work due${report.full ? ' (full run)' : ''}: ${outcomeWords(report, counts)}.`;
}

/** What the operator should act on besides failures: a held prune, the plan's warnings, an estimate that does not fit. */
function attentionSection(report: Report): string {
  const p = report.prune;
  const items = [
    p.held > 0 &&
      `<p class="notice"><strong>Prune held:</strong> ${n(p.held)} deleted ${plural(p.held, 'original')} ${p.held === 1 ? 'is' : 'are'} ${(p.share * 100).toFixed(1)}% of the catalogue, more than renditions.maxPruneShare (${(p.maxShare * 100).toFixed(1)}%); their renditions were kept. If the deletions are intended, ${escapeHtml(confirmPruneAdvice(report.trigger))}; if not, restore the originals (their backups are kept).</p>`,
    ...(report.warnings ?? []).map((w) => `<p class="notice"><strong>Warning:</strong> ${escapeHtml(w)}</p>`),
    report.estimate && !report.estimate.fits && report.estimate.advice && `<p class="notice"><strong>Warning:</strong> this run may not finish inside the execution: ${escapeHtml(report.estimate.advice)}</p>`,
  ].filter((x): x is string => Boolean(x));
  return items.length ? `<h2 id="attention">Needs attention</h2>${items.join('')}` : '';
}

/** Failures first: by cause with its sentence, then each failure with its readable reason and the raw message folded away. */
function failuresSection(report: Report, csvHref: string): string {
  if (!report.failed.total) return '';
  const reasons = report.failed.reasons.slice(0, 20);
  const row = (f: ReportFailure) => {
    const cause = f.cause ?? explainFailure(f).cause;
    return `<tr><td>${f.operation}</td><td><code>${escapeHtml(cause)}</code></td><td class="key">${keyHtml(f.key)}</td><td>${escapeHtml(adviceOf(cause))}<details class="raw"><summary>raw message</summary><pre>${escapeHtml(f.message)}</pre></details></td></tr>`;
  };
  const rows = report.failures.slice(0, FAILURE_ROWS_MAX).map(row);
  const csv = escapeHtml(csvHref);
  return `<h2 id="failures">Failures</h2>${barChart(reasons.map((r) => ({ label: `${r.operation} ${r.cause ?? r.code}`, value: r.count, text: n(r.count) })), '#cf222e')}
<ul class="causes">${reasons.map((r) => `<li><code>${escapeHtml(r.cause ?? r.code)}</code> (${n(r.count)}): ${escapeHtml(r.advice ?? adviceOf(r.code))}</li>`).join('')}</ul>
<p>${report.failed.total === 1 ? 'The failure is' : `All ${n(report.failed.total)} failures are`} in <a href="${csv}">failures.csv</a>.</p>
<table><tr><th>operation</th><th>cause</th><th>key</th><th>what to do</th></tr>${rows.slice(0, FAILURE_ROWS_OPEN).join('')}</table>
${rows.length > FAILURE_ROWS_OPEN ? `<details><summary>${n(rows.length - FAILURE_ROWS_OPEN)} more${report.failed.total > rows.length ? ` (of ${n(report.failed.total - FAILURE_ROWS_OPEN)}; the rest are in failures.csv)` : ''}</summary><table>${rows.slice(FAILURE_ROWS_OPEN).join('')}</table></details>` : ''}`;
}

/** Backup and resize, one row each, in the email's words. */
function operationsTable(report: Report): string {
  const ops = (['backup', 'resize'] as const).filter((op) => report.operations[op]);
  if (!ops.length) return '';
  const rows = ops.map((op) => {
    const t = report.operations[op]!;
    const o = operationCounts(t, op === 'resize' ? report.prune.originals : 0);
    const ratio = op === 'resize' && t.bytesRead > 0 ? `${((t.bytesWritten / t.bytesRead) * 100).toFixed(0)} % of the originals` : '';
    return `<tr><th>${op}</th><td>${n(o.done)}</td><td>${n(o.current)}</td><td>${n(skippedTotal(o))}</td><td class="${o.failed ? 'bad' : ''}">${n(o.failed)}</td><td>${bytes(t.bytesRead)}</td><td>${bytes(t.bytesWritten)}</td><td>${ratio}</td><td>${duration(t.maxShardMs)}</td></tr>`;
  });
  return `<h2>Operations</h2><table><tr><th></th><th>done</th><th>already current</th><th>skipped</th><th>failed</th><th>bytes read</th><th>bytes written</th><th>output size</th><th>slowest shard</th></tr>${rows.join('')}</table>`;
}

function catalogueWords(report: Report): string {
  const o = report.objects;
  const deleted = report.deleted ? `: ${report.deleted.sample.map((k) => keyHtml(k)).join(', ')}${o.deleted > report.deleted.sample.length ? ` and ${n(o.deleted - report.deleted.sample.length)} more (all in <code>${escapeHtml(report.deleted.list)}</code>)` : ''}` : '';
  const filtered = Object.entries(o.skipped).length ? `Left alone by the filter: ${Object.entries(o.skipped).map(([k, v]) => `${escapeHtml(k)} ${n(v)}`).join(', ')}.` : '';
  const promoted = report.superseded ? `This run was ${escapeHtml(SUPERSEDED_WORDS)}${report.superseded.by ? ` (${escapeHtml(report.superseded.by)})` : ''}.` : `The catalogue was ${report.catalogPromoted ? 'promoted: the next run compares against it' : 'not promoted'}.`;
  return `${count(o.selected, 'image')} selected, ${n(o.deleted)} deleted since the last run${deleted}. ${filtered} ${promoted}`;
}

/** The image records the run changed, the change feed beside the report, and the CDN invalidation: the email's words. */
function recordsSection(report: Report): string {
  const r = report.records;
  if (!r) return '';
  const superseded = r.superseded ? `, ${n(r.superseded)} left as they were (a newer run's record stands)` : '';
  return `<h2 id="records">Image records</h2><p>${escapeHtml(changeWords(r.changes))}. Change feed: <a href="changes.jsonl">changes.jsonl</a> (one line per original whose record changed). <span class="meta">${n(r.written)} written${superseded}; ${n(r.requests)} DynamoDB write requests.</span></p>${
    r.invalidation ? `<p>CDN: ${escapeHtml(invalidationWords(r.invalidation))}.</p>` : ''
  }`;
}

/** One chart per operation; a shard that took more than 1.5 × the median is a straggler, drawn in orange. */
function shardCharts(report: Report): string {
  const ops = [...new Set(report.shards.map((s) => s.operation))];
  if (ops.length === 0) return '';
  const charts = ops.map((op) => {
    const shards = report.shards.filter((s) => s.operation === op);
    const sorted = shards.map((s) => s.durationMs).sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const bars = shards.map((s) => ({
      label: `${op} shard ${s.shard}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`,
      value: s.durationMs,
      text: `${duration(s.durationMs)}, ${count(s.items, 'object')}${s.failed ? `, ${n(s.failed)} failed` : ''}`,
      colour: shards.length > 2 && s.durationMs > 1.5 * median ? '#bc4c00' : '#0969da',
    }));
    const shown = bars.length > 60 ? [...bars].sort((a, b) => b.value - a.value).slice(0, 60) : bars;
    return `<h3>${op}: ${n(shards.length)} shard${shards.length === 1 ? '' : 's'}, median ${duration(median)}</h3>${barChart(shown, '#0969da')}${bars.length > 60 ? '<p class="meta">The 60 slowest shards.</p>' : ''}`;
  });
  return `<h2>Time per shard</h2><p class="meta">Stragglers (more than 1.5 × the median) are orange: they set the run's wall time.</p>${charts.join('')}`;
}

function gallery(report: Report, items: readonly GalleryItem[]): string {
  const failed = report.failures.filter((f) => f.operation === 'resize');
  const failedCount = report.operations.resize?.failed ?? 0;
  if (items.length === 0 && failedCount === 0) return '';
  const tiles = items.map((item) => {
    const image = item.thumbnail
      ? `<img src="${item.thumbnail.dataUri}" width="${item.thumbnail.width}" height="${item.thumbnail.height}" alt="${escapeHtml(item.thumbnail.rendition)} of ${escapeHtml(item.key)}">`
      : '<div class="none" title="no preview">?</div>';
    const list = item.renditions.map((r) => `<li>${escapeHtml(r.name)} ${r.width && r.height ? `${r.width}×${r.height} ` : ''}${bytes(r.bytes)}</li>`).join('');
    return `<figure class="tile">${image}<figcaption>${keyHtml(item.key)}<ul>${list}</ul></figcaption></figure>`;
  });
  const failedTiles = failed
    .slice(0, FAILED_TILES)
    .map((f) => {
      const cause = f.cause ?? explainFailure(f).cause;
      return `<figure class="tile failed"><div class="none" title="failed">✕</div><figcaption>${keyHtml(f.key)}<ul><li><code>${escapeHtml(cause)}</code>: ${escapeHtml(adviceOf(cause))}</li></ul></figcaption></figure>`;
    });
  // Collapsible: below what needs acting on, and folded away in one click.
  return `<details class="section" id="gallery" open><summary>Gallery</summary>${
    tiles.length ? `<p class="meta">A sample of ${n(items.length)} processed image${items.length === 1 ? '' : 's'}, each shown by its smallest rendition, with every rendition written.</p><div class="gallery">${tiles.join('')}</div>` : ''
  }${
    failedTiles.length
      ? `<h3>Failed images</h3><p class="meta">${failedCount > FAILED_TILES ? `The first ${n(Math.min(FAILED_TILES, failed.length))} of ${n(failedCount)}; every` : 'Every'} failure is in the <a href="#failures">failures table</a>.</p><div class="gallery">${failedTiles.join('')}</div>`
      : ''
  }</details>`;
}

function renditionChart(report: Report): string {
  // In the configured order of the presets (largest first, as a rule), then by format.
  const rank = (name: string) => report.presets.indexOf(name.split('/')[0]!);
  const entries = Object.entries(report.renditions).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  if (entries.length === 0) return '';
  return `<h2>Rendition bytes by preset and format</h2>${barChart(entries.map(([k, v]) => ({ label: k, value: v.bytes, text: `${bytes(v.bytes)} in ${n(v.count)}` })), '#8250df')}`;
}

/** A horizontal bar chart as inline SVG. */
export function barChart(bars: readonly { label: string; value: number; text: string; colour?: string }[], colour: string): string {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const row = 20;
  const labelWidth = 210;
  const width = 900;
  const barSpace = width - labelWidth - 170;
  const items = bars
    .map((b, i) => {
      const w = Math.max(1, Math.round((b.value / max) * barSpace));
      const y = i * row;
      return `<text x="0" y="${y + 14}">${escapeHtml(b.label)}</text><rect x="${labelWidth}" y="${y + 3}" width="${w}" height="14" rx="2" fill="${b.colour ?? colour}"/><text x="${labelWidth + w + 6}" y="${y + 14}">${escapeHtml(b.text)}</text>`;
    })
    .join('');
  return `<svg role="img" width="100%" viewBox="0 0 ${width} ${bars.length * row + 4}" xmlns="http://www.w3.org/2000/svg">${items}</svg>`;
}

/** Objects an operation skipped, summarised by reason with counts; the first keys of each reason folded under it. */
function skipsSection(report: Report): string {
  const rows = Object.entries(report.operations).flatMap(([op, t]) =>
    Object.entries(operationCounts(t).skipped).map(([code, c]) => {
      const named = (report.skips ?? []).filter((s) => s.operation === op && s.code === code);
      const list = named.map((s) => `<li>${keyHtml(s.key)}${s.message ? ` <span class="meta">${escapeHtml(s.message)}</span>` : ''}</li>`).join('');
      const more = c > named.length ? ` (the first ${n(named.length)} named)` : '';
      return `<tr><td>${op}</td><td><code>${escapeHtml(code)}</code></td><td>${n(c)}</td><td>${named.length ? `<details><summary>${count(named.length, 'key')}${more}</summary><ul>${list}</ul></details>` : ''}</td></tr>`;
    }),
  );
  if (rows.length === 0) return '';
  return `<h2 id="skipped">Skipped, by reason</h2><p class="meta">Not done and not failed: each reason with its count (up to ${SKIPS_NAMED} keys of each are named).</p><table><tr><th>operation</th><th>reason</th><th>images</th><th>keys</th></tr>${rows.join('')}</table>`;
}

/** Images rendered with a rendering policy not applied as configured (an animation over its budget, an invalid focal point), by reason. */
function notesSection(report: Report): string {
  // The most frequent first, then by name: the shards' results arrive in any order.
  const counts = Object.entries(report.operations)
    .flatMap(([, t]) => Object.entries(t.notedByCode ?? {}))
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .map(([code, count]) => `<code>${escapeHtml(code)}</code> ${n(count)}`);
  if (counts.length === 0) return '';
  return `<h2 id="rendering-notes">Rendered, with a policy not applied</h2><p class="meta">${counts.join(' · ')}: each image's record (<code>rendering.notes</code>) says why.</p>`;
}

/** A dry run's plan: what a real run would do, per action, what it would take, and its list of keys. */
function dryRunSection(p: NonNullable<Report['dryRunPlan']>): string {
  const requests = Object.values(p.cost.requests).reduce((a, b) => a + b, 0);
  const row = (action: string, w: { objects: number; renditions: number; bytes: number }, current?: number) => `<tr><th>${action}</th><td>${n(w.objects)}</td><td>${n(w.renditions)}</td><td>${bytes(w.bytes)}</td><td>${current === undefined ? '' : n(current)}</td></tr>`;
  return `<h2>Dry run: what a real run would do</h2><p>${escapeHtml(dryRunWords(p))}.</p>
<table><tr><th></th><th>objects</th><th>renditions</th><th>bytes to copy or read</th><th>already current</th></tr>${row('back up', p.copy, p.current.backup ?? 0)}${row('render', p.render, p.current.resize ?? 0)}${row('prune', p.prune)}</table>
<p>About ${duration(p.expectedSeconds * 1000)} on the configured compute, and ${usd(p.cost.totalUsd)} (compute ${usd(p.cost.computeUsd)}, ${count(requests, 'S3 request')} ${usd(p.cost.requestsUsd)}${escapeHtml(costExtras(p.cost))}). Every key: <code>${escapeHtml(p.list)}</code> (one line per object).</p>`;
}

/** Renditions of deleted originals: what was pruned (the first rows open, the rest folded), or why nothing was. */
function pruneSection(report: Report): string {
  const p = report.prune;
  if (!p || (p.originals === 0 && p.held === 0)) return '';
  const rows = p.pruned.slice(0, FAILURE_ROWS_MAX).map((x) => `<tr><td class="key">${keyHtml(x.key)}</td><td>${x.renditions.map(escapeHtml).join(', ')}</td></tr>`);
  // A held prune is told at the top (attentionSection).
  const held = p.held > 0 ? `<p>${n(p.held)} deleted ${plural(p.held, 'original')}: prune held, see <a href="#attention">Needs attention</a>.</p>` : '';
  const pruned = p.originals > 0 ? `<p>${count(p.renditions, 'rendition')} of ${n(p.originals)} deleted ${plural(p.originals, 'original')} ${report.dryRun ? 'would be' : 'were'} deleted; their backups are kept.</p><table><tr><th>original</th><th>renditions deleted</th></tr>${rows.slice(0, FAILURE_ROWS_OPEN).join('')}</table>${rows.length > FAILURE_ROWS_OPEN ? `<details><summary>${n(rows.length - FAILURE_ROWS_OPEN)} more${p.originals > rows.length ? ` (of ${n(p.originals - FAILURE_ROWS_OPEN)}; the resize shard results name them all)` : ''}</summary><table>${rows.slice(FAILURE_ROWS_OPEN).join('')}</table></details>` : ''}` : '';
  return `<h2 id="pruned">Pruned renditions</h2>${held}${pruned}`;
}
