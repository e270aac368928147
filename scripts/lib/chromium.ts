/**
 * Headless Chromium for the report's browser test and the README screenshot: Debian's `chromium`
 * driven by playwright-core (which downloads no browser of its own). When Chromium is missing and
 * this process may install packages (root with apt-get, as in CI and on a fresh machine), it
 * installs it; otherwise it says how.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.NIGHTSHIFT_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a closed network: without the background-networking ones Chromium keeps dialling out. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export function ensureChromium(log: (line: string) => void = () => undefined): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (!canInstall) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install Debian's package (sudo apt-get install chromium) or set NIGHTSHIFT_CHROMIUM to a Chromium binary.`);
  }
  log(`installing Debian's chromium (apt-get) for the report's browser test…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 300_000 });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env, stdio: 'ignore', timeout: 600_000 });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium((l) => process.stderr.write(`${l}\n`)), headless: true, args: FLAGS });
}
