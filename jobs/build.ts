/**
 * Bundles the job entry point the way the container image does (jobs/Dockerfile runs this file):
 * one CommonJS file (and its source map) for Node 24. Two packages stay outside it and load from
 * the image's own `npm ci`: sharp, whose native binary must come from there, and heic-decode,
 * libheif as 2 MB of JavaScript that only a resize child meeting a HEIC needs. Bundled, it made
 * the bundle 4.8 MB instead of 2.8 and every job process compile and map it: `node <bundle>
 * backup` (which exits 2 at once) took 0.180 CPU-s and 113 MB against 0.165 and 103 MB without
 * it (CPU means, RSS medians, of 20 alternating runs; --enable-source-maps).
 *
 *   tsx jobs/build.ts [outfile]     (default: dist/jobs/main.js)
 */
import { build, type BuildOptions } from 'esbuild';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const JOB_BUNDLE_OPTIONS: BuildOptions = {
  entryPoints: [join(__dirname, 'src/main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  external: ['sharp', 'heic-decode'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Builds the bundle to `outfile`, with its source map beside it (`outfile`.map, which
 * `--enable-source-maps` reads to point stack traces at the TypeScript), atomically: each file
 * is written beside its final name and renamed, the map first, so runs building the same bundle
 * at once never execute a half-written file. `outfile` must sit inside the project so that
 * the packages left external resolve from its node_modules.
 *
 * Not an inline map: it made the bundle 13.7 MB instead of 4.7 (heic-decode still inside then),
 * and every job process paid for reading and compiling it at start-up (0.29 CPU-s against 0.20
 * with `--enable-source-maps`; measured with `/usr/bin/time node <bundle> backup`, which loads
 * everything and exits 2).
 */
export async function buildJobBundle(outfile: string): Promise<void> {
  const { outputFiles } = await build({ ...JOB_BUNDLE_OPTIONS, outfile, write: false });
  const suffix = `.${process.pid}.${Date.now()}.tmp`;
  await mkdir(dirname(outfile), { recursive: true });
  for (const file of [...outputFiles].sort((a, b) => Number(a.path.endsWith('.js')) - Number(b.path.endsWith('.js')))) {
    await writeFile(file.path + suffix, file.contents);
    await rename(file.path + suffix, file.path);
  }
}

/** Where the local runtime keeps its job bundle: inside the project, whatever the working directory. */
export const LOCAL_JOB_BUNDLE = join(__dirname, '..', 'dist', 'local', 'jobs.js');

if (require.main === module) {
  buildJobBundle(process.argv[2] ?? join(__dirname, '..', 'dist/jobs/main.js')).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
}
