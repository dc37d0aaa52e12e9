// The source is in layers (docs/internals.md): a lower layer never imports a higher one, no
// module imports itself through others, and no file grows past the size a reader takes in.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = resolve(import.meta.dirname, '../../src');

/** Each layer, and the layers it may import. */
const MAY_IMPORT: Record<string, string[]> = {
  core: ['core'],
  gpu: ['core', 'gpu'],
  state: ['core', 'gpu', 'state'],
  tfjs: ['core', 'gpu', 'state', 'tfjs'],
  jax: ['core', 'gpu', 'state', 'jax'],
  facade: ['core', 'gpu', 'state'],
  index: ['core', 'gpu', 'state', 'facade'],
};

function layerOf(file: string): string {
  const path = relative(src, file);
  if (path === 'adafactor.ts') return 'facade';
  if (path === 'index.ts') return 'index';
  return path.split('/')[0];
}

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The src files a file imports (values and types alike), by relative specifier. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]);
  return specifiers.filter((s) => !s.includes('.wgsl')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const files = sources(src);

describe('the layers of src/', () => {
  it('finds every layer', () => {
    expect(new Set(files.map(layerOf))).toEqual(new Set(Object.keys(MAY_IMPORT)));
  });

  it('no layer imports a higher one', () => {
    const wrong = files.flatMap((file) =>
      imports(file)
        .filter((target) => !MAY_IMPORT[layerOf(file)].includes(layerOf(target)))
        .map(
          (target) => `${relative(src, file)} (${layerOf(file)}) imports ${relative(src, target)} (${layerOf(target)})`,
        ),
    );
    expect(wrong).toEqual([]);
  });

  it('no import cycle', () => {
    const graph = new Map(files.map((f) => [f, imports(f)]));
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file))
        return void cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(src, f)).join(' -> '));
      if (done.has(file)) return;
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      done.add(file);
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('no file over 400 lines, the public facade at most 350', () => {
    const lines = (file: string) => readFileSync(file, 'utf8').split('\n').length;
    expect(files.filter((f) => lines(f) > 400).map((f) => `${relative(src, f)}: ${lines(f)} lines`)).toEqual([]);
    expect(lines(join(src, 'adafactor.ts'))).toBeLessThanOrEqual(350);
  });
});
