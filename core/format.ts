/**
 * How nightshift writes numbers for people: counts, bytes, durations, dollars and times, the same
 * in the email, report.html, the CLI and the progress display.
 */

/** `1,234,567` */
export const n = (x: number) => x.toLocaleString('en-US');

/** `1 image`, `2 images`: the word after a count. */
export const plural = (count: number, word: string) => (count === 1 ? word : `${word}s`);

/** `1 image`, `1,204 images`: a count and its noun, agreeing. `count(2, 'S3 request')` → `2 S3 requests`. */
export const count = (x: number, word: string) => `${n(x)} ${plural(x, word)}`;

/**
 * ISO 8601 in a time zone, whatever the machine's locale: `2026-12-05T02:00:00Z` in UTC,
 * `2026-12-05T03:00:00+01:00` in Europe/Berlin. The parts come from a fixed locale (en-US,
 * 24-hour clock) so LANG/LC_ALL change nothing.
 */
export function isoInZone(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset' }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)!.value;
  // longOffset is "GMT+01:00", and "GMT" or "GMT+00:00" at offset zero, which ISO writes Z.
  const offset = part('timeZoneName').replace(/^GMT/, '').replace(/^[+-]00:00$/, '') || 'Z';
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${offset}`;
}

/** Binary units: `88 KiB`, `1.2 GiB`. */
export function bytes(x: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = x;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `42 s`, `7 min`, `3 h 05 min` */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** `2026-11-22 02:00 UTC` */
export function utcMinute(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** Dollars: four decimals below a cent, two above. */
export const usd = (x: number) => (x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`);
