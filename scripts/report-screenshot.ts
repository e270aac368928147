/**
 * `npm run screenshot [-- <report.html>] [--out docs/report.png] [--height 1700]`: a picture of
 * the top of a run's report (what a person sees first: status, totals, charts, the start of the
 * gallery) in headless Chromium, for the README. Defaults to the newest local run's report
 * (`npm start` leaves one under .nightshift/reports/).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from './lib/chromium';

const ROOT = join(__dirname, '..');

function newestReport(): string {
  const dir = join(ROOT, '.nightshift', 'reports');
  const reports = existsSync(dir)
    ? readdirSync(dir)
        .map((run) => join(dir, run, 'report.html'))
        .filter((p) => existsSync(p))
    : [];
  if (reports.length === 0) throw new Error(`No report under ${relative(process.cwd(), dir)}: run \`npm start\` first, or pass the path of a report.html.`);
  return reports.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: join(ROOT, 'docs', 'report.png') }, width: { type: 'string', default: '1160' }, height: { type: 'string', default: '1700' } } });
  const report = positionals[0] ?? newestReport();
  if (!existsSync(report)) throw new Error(`${report} does not exist`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: Number(values.width), height: Number(values.height) }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
    mkdirSync(dirname(values.out!), { recursive: true });
    await page.screenshot({ path: values.out!, fullPage: false });
    process.stdout.write(`${relative(process.cwd(), values.out!)} ← ${relative(process.cwd(), report)}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
