#!/usr/bin/env node
// `npx nightshift …`: runs the TypeScript CLI with the project's tsx and Node 24.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const root = join(__dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const tsx = require.resolve('tsx/cli', { paths: [root] });
const { status, signal } = spawnSync(require('node:fs').existsSync(node) ? node : process.execPath, [tsx, '--disable-warning=ExperimentalWarning', join(__dirname, 'nightshift.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(status ?? (signal ? 1 : 0));
