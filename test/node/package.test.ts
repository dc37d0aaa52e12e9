// The package as a user meets it: `npm pack`, the tarball installed into a fresh folder outside
// the repository (from the npm registry, like a user's), then every program in examples/ and
// every README and docs code block as written (examples and ```js blocks, the jax-js page's
// example among them, run to completion in Node and print what their comments say; ```ts blocks
// pass a strict type check with @webgpu/types), a CommonJS require of every entry, a strict TypeScript consumer, and a tfjs model saved with its
// optimizer and loaded again.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedVersion, packInto } from '../../tools/pack.js';

const repo = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
let folder = '';

const installed = (name: string) => installedVersion(repo, name);

/** The code blocks of a markdown text (the README by default) in a language, in order. */
function blocks(language: string, markdown = readme): string[] {
  return [...markdown.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]);
}

/** Runs `node file` in the fresh folder with a time limit; returns its stdout lines. */
function runNode(file: string, timeoutSeconds: number): string[] {
  const result = spawnSync('node', [file], {
    cwd: folder,
    encoding: 'utf8',
    timeout: timeoutSeconds * 1000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (result.error)
    throw new Error(`node ${file}: ${result.error.message} (it must exit by itself within ${timeoutSeconds} s)`);
  if (result.status !== 0)
    throw new Error(`node ${file} exited with ${result.status ?? result.signal}:\n${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.trim() !== '');
}

/** Type-checks files in the fresh folder as a strict consumer would, with WebGPU's types. */
function typeCheck(files: string[]): void {
  const args = [
    'tsc',
    '--noEmit',
    '--strict',
    '--target',
    'es2022',
    '--module',
    'esnext',
    '--moduleResolution',
    'bundler',
    '--lib',
    'es2022,dom',
    '--types',
    '@webgpu/types',
    '--skipLibCheck',
    ...files,
  ];
  const result = spawnSync('npx', args, { cwd: folder, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tsc ${files.join(' ')}:\n${result.stdout}${result.stderr}`);
}

describe('the packed package in a fresh folder', () => {
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'webgpu-adafactor-user-'));
    const tarball = packInto(repo, folder);
    const dependencies = {
      'webgpu-adafactor': `file:${tarball}`,
      webgpu: installed('webgpu'),
      '@webgpu/types': installed('@webgpu/types'),
      typescript: installed('typescript'),
      '@tensorflow/tfjs': installed('@tensorflow/tfjs-core'),
      '@tensorflow/tfjs-backend-webgpu': installed('@tensorflow/tfjs-backend-webgpu'),
      '@jax-js/jax': installed('@jax-js/jax'),
    };
    writeFileSync(
      join(folder, 'package.json'),
      JSON.stringify({ name: 'a-user', private: true, type: 'module', dependencies }, null, 2),
    );
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'], {
      cwd: folder,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }, 600_000);

  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('every program in examples/ and every ```js block of the README and of docs/ runs in Node, exits by itself and prints what its comments say', () => {
    const examples = readdirSync(join(repo, 'examples')).filter((name) => name.endsWith('.mjs'));
    expect(examples.length).toBeGreaterThan(0);
    const programs = [
      ...examples.map((name) => ({
        file: name,
        what: `examples/${name}`,
        program: readFileSync(join(repo, 'examples', name), 'utf8'),
      })),
      ...blocks('js').map((program, i) => ({ file: `readme-${i}.mjs`, what: `README js block ${i}`, program })),
      ...readdirSync(join(repo, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .flatMap((name) =>
          blocks('js', readFileSync(join(repo, 'docs', name), 'utf8')).map((program, i) => ({
            file: `${name.replace(/\W/g, '-')}-${i}.mjs`,
            what: `docs/${name} js block ${i}`,
            program,
          })),
        ),
    ];
    // The jax-js page's complete example is among them.
    expect(programs.some((p) => p.what.startsWith('docs/jax.md'))).toBe(true);
    for (const { file, what, program } of programs) {
      writeFileSync(join(folder, file), program);
      const promised = [...program.matchAll(/^\s*console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
      expect(promised.length, `${what} promises some output`).toBeGreaterThan(0);
      expect(runNode(file, 120), what).toEqual(promised);
    }
  }, 300_000);

  it('every ```ts block of the README and of docs/ passes a strict type check', () => {
    const pages = ['README.md', ...readdirSync(join(repo, 'docs')).map((name) => `docs/${name}`)].filter((page) =>
      page.endsWith('.md'),
    );
    const sources = pages.flatMap((page) =>
      blocks('ts', readFileSync(join(repo, page), 'utf8')).map((source, i) => ({ page, i, source })),
    );
    expect(blocks('ts').length).toBeGreaterThan(0);
    const files = sources.map(({ page, i, source }) => {
      const file = `${page.replace(/\W/g, '-')}-${i}.ts`;
      writeFileSync(join(folder, file), `${source}\nexport {};\n`);
      return file;
    });
    for (const file of files) typeCheck([file]);
  }, 300_000);

  it('CommonJS code can require every entry', () => {
    writeFileSync(
      join(folder, 'require.cjs'),
      `const { Adafactor, ReferenceAdafactor } = require('webgpu-adafactor');
const { AdafactorOptimizer } = require('webgpu-adafactor/tfjs');
const { adafactor } = require('webgpu-adafactor/jax');
console.log(typeof Adafactor, Adafactor.name, ReferenceAdafactor.name, AdafactorOptimizer.name, adafactor.name);
`,
    );
    expect(runNode('require.cjs', 60)).toEqual(['function Adafactor ReferenceAdafactor AdafactorOptimizer adafactor']);
  });

  it('a strict TypeScript consumer sees the public API, and not what is internal', () => {
    writeFileSync(
      join(folder, 'consumer.ts'),
      `import { Adafactor, type AdafactorOptions, type AdafactorStats, ReferenceAdafactor } from 'webgpu-adafactor';
import { AdafactorOptimizer } from 'webgpu-adafactor/tfjs';

export async function use(device: GPUDevice, param: GPUBuffer, grad: GPUBuffer): Promise<number> {
  const options: AdafactorOptions = { beta1: 0.9, skipNonFinite: true };
  const optimizer = new Adafactor(device, [{ param, grad, shape: [4, 4] }], options);
  optimizer.step();
  // @ts-expect-error stepCount is read-only
  optimizer.stepCount = 5;
  const stats: AdafactorStats = await optimizer.stats();
  const rates: number[] = optimizer.learningRate();
  const reference = new ReferenceAdafactor([{ data: new Float32Array(16), shape: [4, 4] }]);
  reference.step([new Float32Array(16)]);
  new AdafactorOptimizer({ relativeStep: false, lr: 1e-3 });
  return stats.step + rates[0] + optimizer.stepCount;
}
`,
    );
    writeFileSync(
      join(folder, 'internal.ts'),
      `import { AdafactorEngine } from 'webgpu-adafactor';\nexport const leaked = AdafactorEngine;\n`,
    );
    writeFileSync(
      join(folder, 'engine.ts'),
      `import type { Adafactor } from 'webgpu-adafactor';\nexport const leaked = (optimizer: Adafactor) => optimizer.engine;\n`,
    );
    typeCheck(['consumer.ts']);
    expect(() => typeCheck(['internal.ts'])).toThrow(/has no exported member.*'AdafactorEngine'/);
    expect(() => typeCheck(['engine.ts'])).toThrow(/Property 'engine' does not exist on type 'Adafactor'/);
  }, 120_000);

  it('a tfjs model saved with its optimizer loads and trains on exactly as an uninterrupted one', () => {
    writeFileSync(
      join(folder, 'tfjs-roundtrip.mjs'),
      `import * as tf from '@tensorflow/tfjs';
import { AdafactorOptimizer } from 'webgpu-adafactor/tfjs';

await tf.setBackend('cpu');
const x = tf.tensor2d(Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i)), [64, 8]);
const y = tf.tensor2d(Array.from({ length: 64 }, (_, i) => Math.cos(i)), [64, 1]);
const build = (seed) => {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [8], units: 16, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
  ] });
  model.compile({ optimizer: new AdafactorOptimizer({ beta1: 0.9 }), loss: 'meanSquaredError' });
  return model;
};
const fit = (model, epochs) => model.fit(x, y, { epochs, batchSize: 64, shuffle: false, verbose: 0 });

const straight = build(7);
await fit(straight, 20);

const first = build(7);
await fit(first, 10);
let saved;
await first.save(tf.io.withSaveHandler(async (artifacts) => { saved = artifacts; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }), { includeOptimizer: true });
const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
console.log(loaded.optimizer instanceof AdafactorOptimizer, loaded.optimizer.iterations);
await fit(loaded, 10);
const same = straight.getWeights().every((w, i) => tf.equal(w, loaded.getWeights()[i]).all().dataSync()[0] === 1);
console.log(same);
`,
    );
    expect(runNode('tfjs-roundtrip.mjs', 120).filter((line) => !line.includes('tfjs-node'))).toEqual([
      'true 10',
      'true',
    ]);
  }, 180_000);
});
