/**
 * Imports point one way: core ← adapters ← jobs / functions / infra ← local ← scripts, and no
 * module imports itself around a cycle. Read with TypeScript's own pre-processor (static imports,
 * `import()` and `require()`, type-only imports included), over every source file but tests; a
 * new import against the direction, an AWS package imported by core, or a new cycle, fails here
 * with the files named.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..');
/** Each top-level folder's layer: a file may import its own layer's folder and any lower layer. */
const LAYER: Record<string, number> = { core: 0, adapters: 1, jobs: 2, functions: 2, infra: 2, local: 3, scripts: 4 };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(path);
    return /\.tsx?$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name) ? [path] : [];
  });
}

const files = Object.keys(LAYER).flatMap((top) => sources(join(ROOT, top)));
const known = new Set(files);
const resolveImport = (from: string, spec: string): string | undefined => {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((p) => known.has(p));
};
// preProcessFile lists type-only imports too (`import type`, `export type … from`, `import('…')` types).
const specifiers = new Map(files.map((f) => [f, ts.preProcessFile(readFileSync(f, 'utf8'), true, true).importedFiles.map((i) => i.fileName)]));
const graph = new Map([...specifiers].map(([f, specs]) => [f, specs.map((spec) => resolveImport(f, spec)).filter((p): p is string => p !== undefined)]));
const top = (file: string) => relative(ROOT, file).split('/')[0]!;
const name = (file: string) => relative(ROOT, file);

it('imports point one way: core ← adapters ← jobs/functions/infra ← local ← scripts', () => {
  const against = [...graph].flatMap(([from, tos]) => tos.filter((to) => LAYER[top(to)]! > LAYER[top(from)]! || (LAYER[top(to)] === LAYER[top(from)] && top(to) !== top(from))).map((to) => `${name(from)} → ${name(to)}`));
  expect(files.length).toBeGreaterThan(50); // the walk found the tree
  expect(against).toEqual([]);
});

it('core imports nothing from AWS, not even a type', () => {
  const aws = /^(@aws-sdk|@smithy|@aws-crypto|@aws-cdk|aws-cdk-lib|aws-cdk|constructs|cdk-nag|aws-lambda|@types\/aws-lambda)(\/|$)/;
  const fromAws = [...specifiers].filter(([from]) => top(from) === 'core').flatMap(([from, specs]) => specs.filter((spec) => aws.test(spec)).map((spec) => `${name(from)} → ${spec}`));
  expect(fromAws).toEqual([]);
});

it('has no import cycle', () => {
  // Tarjan's strongly connected components: a component of more than one file is a cycle.
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(name(w));
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const f of files) if (!order.has(f)) visit(f);
  expect(cycles).toEqual([]);
});
