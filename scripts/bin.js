#!/usr/bin/env node
// `npx nightshift …`: runs the TypeScript CLI with the project's tsx and Node 24. Ctrl-C and kill
// reach the CLI (which stops its own children), and this process exits with the CLI's code.
const { spawn } = require('node:child_process');
const { existsSync } = require('node:fs');
const { constants } = require('node:os');
const { join } = require('node:path');
const root = join(__dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const tsx = require.resolve('tsx/cli', { paths: [root] });
const child = spawn(existsSync(node) ? node : process.execPath, [tsx, '--disable-warning=ExperimentalWarning', join(__dirname, 'nightshift.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
