/**
 * The embedded runtime's third-party servers, installed in ./node_modules by local/embedded/install.cjs
 * (the project's postinstall) with the project's own Node 24: every import of them goes through here,
 * because Node and TypeScript resolve a package from the importing file's folder upwards, and only
 * files in this folder find ./node_modules.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export { ExecutionAbortedError, ExecutionError, StateMachine } from 'aws-local-stepfunctions';

/** fauxqs's built files (its internals are ES modules without types: local/s3-server.ts loads them by path). */
export function fauxqsDist(): string {
  for (const dir of require.resolve.paths('fauxqs') ?? []) {
    const dist = join(dir, 'fauxqs', 'dist');
    if (existsSync(join(dist, 'app.js'))) return dist;
  }
  throw new Error('fauxqs is not installed in local/embedded/node_modules: run `npm ci` in the project folder (its postinstall installs it).');
}
