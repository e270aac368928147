/**
 * The README and docs/ travel with the repository: every relative link must name a file inside it
 * that exists, so a clone (or a packed copy) never points a reader at a page it does not have.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { onUploadSchema } from '../core/config';
import { TYPICAL_UPLOAD, uploadLaneSizes, uploadsCostPerThousand } from '../core/upload-lane';
import { ROOT } from './support/processes';

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Relative link targets of a Markdown page: inline links/images, reference definitions, HTML src/href; code excluded. */
function relativeLinks(markdown: string): string[] {
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
    ...[...text.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]),
  ];
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#') && !t.startsWith('//'));
}

/** Why a link is broken, or undefined when it names an existing file inside the repository. */
function brokenBecause(page: string, target: string): string | undefined {
  const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
  const file = resolve(ROOT, dirname(page), path);
  const inRepo = relative(ROOT, file);
  if (inRepo === '..' || inRepo.startsWith(`..${sep}`) || resolve(inRepo) === inRepo) return 'leaves the repository';
  if (!existsSync(file)) return 'names no file';
  return undefined;
}

it.each(pages)('%s links only to files inside the repository', (page) => {
  const broken = relativeLinks(readFileSync(join(ROOT, page), 'utf8'))
    .map((target) => ({ target, why: brokenBecause(page, target) }))
    .filter((l) => l.why !== undefined);
  expect(broken).toEqual([]);
});

it('finds the links it checks', () => {
  // Guards the extraction itself: a pattern that matched nothing would pass every page.
  expect(relativeLinks('see [a](../x.md "t"), ![b](docs/p.png#f), `[c](no.md)`, [d](https://e.org)\n[r]: ./y.md\n<img src="z.png">'))
    .toEqual(['../x.md', 'docs/p.png#f', './y.md', 'z.png']);
  expect(brokenBecause('README.md', '../shared/DESIGN.md')).toBe('leaves the repository');
  expect(brokenBecause('docs/design.md', '../README.md')).toBeUndefined();
  expect(brokenBecause('README.md', 'docs/missing.md')).toBe('names no file');
});

it('prices a thousand uploads in "Rendering on upload" as the cost model does', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Rendering on upload'), readme.indexOf("## The operator's view"));
  const defaults = onUploadSchema.parse({});
  const [x86, arm] = (['x86_64', 'arm64'] as const).map((a) => uploadsCostPerThousand(defaults, a));
  const sizes = uploadLaneSizes(defaults);
  const usd = (n: number) => `$${n.toFixed(3)}`;
  expect(section).toContain(`about **${usd(x86!.totalUsd)} per thousand uploads** on x86_64 and **${usd(arm!.totalUsd)}** on arm64`);
  expect(section).toContain(`${x86!.invocations.toLocaleString('en-US')} invocations of ${sizes.memoryMiB.toLocaleString('en-US')} MB for ${sizes.secondsPerImage(TYPICAL_UPLOAD.megapixels, TYPICAL_UPLOAD.bytes).toFixed(2)} s each`);
  expect(section).toContain(`${x86!.sqsRequests.toLocaleString('en-US')} SQS requests`);
  expect(section).toContain(`(the defaults: ${sizes.memoryMiB.toLocaleString('en-US')} MB,\na ${sizes.timeoutSeconds} s timeout for a batch of the largest images, a ${sizes.visibilityTimeoutSeconds} s visibility timeout`);
});

describe('the README and the CLI agree', () => {
  // The program as the CLI builds it (commander): each command, `local serve` included, with its options.
  const { program } = require('../scripts/nightshift') as typeof import('../scripts/nightshift');
  type Cmd = ReturnType<typeof program>;
  const walk = (c: Cmd, path: string[] = []): { path: string; command: Cmd }[] =>
    c.commands.filter((s) => s.name() !== 'help').flatMap((s) => [{ path: [...path, s.name()].join(' '), command: s }, ...walk(s, [...path, s.name()])]);
  const commands = walk(program());
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  /** The README's rows for a command in its table of commands: the lines that start with `| \`nightshift <path>` (not a subcommand's). */
  const rows = (path: string) => {
    const start = `| \`nightshift ${path}`;
    return readme.split('\n').filter((l) => l.startsWith(start) && /^(`| [^a-z])/.test(l.slice(start.length)));
  };

  it('walks every command', () => {
    expect(commands.map((c) => c.path)).toEqual(expect.arrayContaining(['local', 'local serve', 'run', 'status', 'schedule', 'synth']));
  });

  it.each(commands.map((c) => [c.path, c.command] as const))('nightshift %s: --help lists its flags, and its README row names each of them', (path, command) => {
    const flags = command.options.map((o) => o.long!).filter(Boolean);
    const help = command.helpInformation();
    expect(flags.filter((f) => !help.includes(f))).toEqual([]);
    const row = rows(path).join('\n');
    expect({ path, row: row.length > 0 }).toEqual({ path, row: true });
    expect({ path, missing: flags.filter((f) => !new RegExp(`${f}(?![a-z-])`).test(row)) }).toEqual({ path, missing: [] });
  });

  it.each(commands.filter((c) => c.command.options.some((o) => o.long === '--json')).map((c) => c.path))('nightshift %s --json: the README gives the shape of its output', (path) => {
    // The shape: `--json` followed, in the same row, by the JSON object's members (`{"runId", …}`).
    expect(rows(path).join('\n')).toMatch(/--json[^|]*\{"[a-zA-Z]+"/);
  });

  it('never suggests fetching the project from the public registry (npx nightshift outside the repository)', () => {
    // `npx nightshift` finds this project only from inside its folder; elsewhere npx would download
    // whatever package of that name the registry has. `npx --no` never downloads.
    const text = readme.replace(/`npx --no nightshift[^`]*`/g, '');
    expect(text.match(/npx nightshift[^\n]{0,40}/g) ?? []).toEqual([]);
  });
});
