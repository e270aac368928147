#!/usr/bin/env node
// `npx nightshift …`: runs the TypeScript CLI with the project's Node 24 and tsx's loader
// (`node --import tsx`), with no tsx process between: tsx's own CLI relays signals to its child and
// SIGKILLs a child that does not acknowledge one within 30 ms (busy synthesizing, say), and exits a
// child whose handlers are gone. Ctrl-C reaches the whole process group; kill reaches this process,
// which passes it on. The CLI ignores repeats, and this process exits with the CLI's code.
const { spawn } = require('node:child_process');
const { existsSync } = require('node:fs');
const { constants } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const root = join(__dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const tsx = pathToFileURL(require.resolve('tsx', { paths: [root] })).href;
const child = spawn(existsSync(node) ? node : process.execPath, ['--disable-warning=ExperimentalWarning', '--import', tsx, join(__dirname, 'nightshift.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
