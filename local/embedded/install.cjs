/**
 * The project's postinstall: installs the embedded runtime's servers (./package.json: fauxqs and
 * aws-local-stepfunctions, which ask for Node 22 or newer) with `npm ci`, run by the project's own
 * Node 24. npm checks each package's "engines" against the Node that runs npm; the root install runs
 * on the machine's Node (20 on a fresh machine), this one on the Node these packages run on, so
 * neither warns EBADENGINE. Plain CommonJS: it runs before anything of the project can be loaded.
 *
 * npm runs a lifecycle script with the project's node_modules/.bin first on PATH, so `node` here is
 * the `node` devDependency; npm_execpath is the npm that runs the install.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// A production install (`--omit=dev`, or NODE_ENV=production, which npm does not pass on) has no
// devDependencies: neither the project's Node 24 nor the local runtime these servers belong to.
const omitted = (process.env.npm_config_omit || '').split(/[\s,]+/);
if (omitted.includes('dev') || !existsSync(join(__dirname, '..', '..', 'node_modules', 'node', 'package.json'))) {
  process.exit(0);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 5)) {
  console.error(
    `nightshift: the embedded servers need Node 22.5 or newer, and this install script ran on Node ${process.versions.node} ` +
      `(${process.execPath}): run \`npm ci\` in the project folder, whose scripts run on the Node 24 of its node devDependency.`,
  );
  process.exit(1);
}

const npm = process.env.npm_execpath;
if (!npm) {
  console.error('nightshift: local/embedded/install.cjs is the postinstall of `npm ci`; run `npm ci` in the project folder.');
  process.exit(1);
}
const run = spawnSync(process.execPath, [npm, 'ci', '--prefix', __dirname, '--no-audit', '--no-fund'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
