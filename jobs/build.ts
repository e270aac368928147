/**
 * Bundles the job entry point the way the container image does (jobs/Dockerfile runs this file):
 * one CommonJS file for Node 22, with sharp left external because its native binary must come
 * from the image's own `npm ci`.
 *
 *   tsx jobs/build.ts [outfile]     (default: dist/jobs/main.js)
 */
import { build, type BuildOptions } from 'esbuild';
import { join } from 'node:path';

export const JOB_BUNDLE_OPTIONS: BuildOptions = {
  entryPoints: [join(__dirname, 'src/main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  external: ['sharp'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

export async function buildJobBundle(outfile: string): Promise<void> {
  await build({ ...JOB_BUNDLE_OPTIONS, outfile });
}

if (require.main === module) {
  buildJobBundle(process.argv[2] ?? join(__dirname, '..', 'dist/jobs/main.js')).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
}
