import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { reflectShader } from './src/reflect.js';

/** `import info from './x.wgsl?reflect'`: the shader's bindings, structs and constants as JSON. */
function wgslReflect(): Plugin {
  const suffix = '?reflect';
  return {
    name: 'wgsl-reflect',
    load(id) {
      if (!id.endsWith('.wgsl' + suffix)) return null;
      const file = id.slice(0, -suffix.length);
      this.addWatchFile(file);
      return `export default ${JSON.stringify(reflectShader(readFileSync(file, 'utf8')))};`;
    },
  };
}

const here = import.meta.dirname;

/** `--mode demo` serves and builds the demo page (a static site in demo-dist/). */
const demoBuild = { outDir: resolve(here, 'demo-dist'), emptyOutDir: true, target: 'es2022' };

/** The default mode builds the library: one ES module with the shaders inlined. */
const libraryBuild = {
  lib: {
    // The core, and the TensorFlow.js optimizer (`webgpu-adafactor/tfjs`), whose tfjs stays external.
    entry: { 'webgpu-adafactor': resolve(here, 'src/index.ts'), tfjs: resolve(here, 'src/tfjs.ts') },
    formats: ['es' as const],
    fileName: (_format: string, name: string) => `${name}.js`,
  },
  rollupOptions: { external: [/^@tensorflow\//] },
  target: 'es2022',
  sourcemap: true,
  outDir: 'dist',
};

/** `--mode bench` builds the benchmark's Node scripts (bench-dist/node.js and browser.js). */
const benchBuild = {
  ssr: true,
  rollupOptions: { input: { node: resolve(here, 'bench/node.ts'), browser: resolve(here, 'bench/browser.ts') } },
  outDir: resolve(here, 'bench-dist'),
  emptyOutDir: true,
  target: 'node20',
};

export default defineConfig(({ mode }) => ({
  plugins: [wgslReflect()],
  root: mode === 'demo' ? resolve(here, 'demo') : here,
  base: './',
  build: mode === 'demo' ? demoBuild : mode === 'bench' ? benchBuild : libraryBuild,
  test: {
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
    projects: [
      {
        extends: true,
        test: { name: 'cpu', include: ['test/cpu/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          // Dawn on lavapipe already uses every core; one GPU test file at a time.
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
}));
