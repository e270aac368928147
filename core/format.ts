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
