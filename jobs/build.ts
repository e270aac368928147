/**
 * Bundles the job entry point the way the container image does (jobs/Dockerfile runs this file):
 * one CommonJS file for Node 24, with sharp left external because its native binary must come
 * from the image's own `npm ci`.
 *
 *   tsx jobs/build.ts [outfile]     (default: dist/jobs/main.js)
 */
import { build, type BuildOptions } from 'esbuild';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';

export const JOB_BUNDLE_OPTIONS: BuildOptions = {
  entryPoints: [join(__dirname, 'src/main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  external: ['sharp'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Builds the bundle to `outfile`, atomically (written beside it, then renamed), so runs building
 * the same bundle at once never execute a half-written file. `outfile` must sit inside the project
 * so that sharp, left external, resolves from its node_modules.
 */
export async function buildJobBundle(outfile: string): Promise<void> {
  const partial = `${outfile}.${process.pid}.${Date.now()}.tmp`;
  await build({ ...JOB_BUNDLE_OPTIONS, outfile: partial, sourcemap: 'inline' });
  await rename(partial, outfile);
}

/** Where the local runtime keeps its job bundle: inside the project, whatever the working directory. */
export const LOCAL_JOB_BUNDLE = join(__dirname, '..', 'dist', 'local', 'jobs.js');

if (require.main === module) {
  buildJobBundle(process.argv[2] ?? join(__dirname, '..', 'dist/jobs/main.js')).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
}
