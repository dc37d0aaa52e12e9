import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { reflectShader } from './src/gpu/reflect.js';

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

/**
 * In the library build, `import source from './x.wgsl?raw'` gives the shader without its comments
 * and blank lines (WGSL has no string literals, so a `//` always starts a comment); the files in
 * shaders/ keep them for readers, and the package ships those too.
 */
function wgslWithoutComments(): Plugin {
  const suffix = '?raw';
  return {
    name: 'wgsl-without-comments',
    enforce: 'pre',
    apply: (_config, env) => env.command === 'build' && env.mode === 'production',
    load(id) {
      if (!id.endsWith('.wgsl' + suffix)) return null;
      const source = readFileSync(id.slice(0, -suffix.length), 'utf8');
      const code = source
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .split('\n')
        .map((line) => line.replace(/\/\/.*$/, '').trimEnd())
        .filter((line) => line.trim() !== '')
        .join('\n');
      return `export default ${JSON.stringify(code + '\n')};`;
    },
  };
}

const here = import.meta.dirname;

// Mesa's lavapipe warns at every start without XDG_RUNTIME_DIR: the tests get a folder of their own.
if (!process.env.XDG_RUNTIME_DIR) {
  process.env.XDG_RUNTIME_DIR = join(tmpdir(), `xdg-runtime-${process.getuid?.() ?? 0}`);
  mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
}

/** `--mode demo` serves and builds the demo pages (a static site in demo-dist/): the picture demo and the paper's claims. */
const demoBuild = {
  outDir: resolve(here, 'demo-dist'),
  emptyOutDir: true,
  target: 'es2022',
  rollupOptions: {
    input: {
      main: resolve(here, 'demo/index.html'),
      paper: resolve(here, 'demo/paper.html'),
      jax: resolve(here, 'demo/jax.html'),
    },
  },
};

/**
 * The default mode builds the library: ES modules with the shaders inlined, not minified (the
 * consumer's bundler minifies; names stay readable in consoles and stack traces).
 */
const libraryBuild = {
  lib: {
    // The core, the TensorFlow.js optimizer (`webgpu-adafactor/tfjs`) and the jax-js transformation
    // (`webgpu-adafactor/jax`), whose tfjs and jax-js stay external.
    entry: {
      'webgpu-adafactor': resolve(here, 'src/index.ts'),
      tfjs: resolve(here, 'src/tfjs/index.ts'),
      jax: resolve(here, 'src/jax/index.ts'),
    },
    formats: ['es' as const],
    fileName: (_format: string, name: string) => `${name}.js`,
  },
  rollupOptions: { external: [/^@tensorflow\//, /^@jax-js\//] },
  target: 'es2022',
  minify: false,
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

/** `--mode paper` builds `npm run paper`'s Node driver (into node_modules/.cache/paper: a build output git ignores). */
const paperBuild = {
  ssr: true,
  rollupOptions: {
    input: { main: resolve(here, 'demo/paper/runner/main.ts'), plot: resolve(here, 'demo/paper/runner/plot.ts') },
  },
  outDir: resolve(here, 'node_modules/.cache/paper'),
  emptyOutDir: true,
  target: 'node20',
};

/**
 * `--mode device` builds the GPU report's runner (scripts/device/report.ts) into device-pack/, with
 * every dependency inside it but Dawn's `webgpu` package (see scripts/device/pack.sh).
 */
const deviceBuild = {
  ssr: true,
  rollupOptions: { input: { report: resolve(here, 'scripts/device/report.ts') } },
  outDir: resolve(here, 'device-pack'),
  emptyOutDir: false,
  target: 'node20',
};

const builds: Record<string, object> = {
  demo: demoBuild,
  bench: benchBuild,
  paper: paperBuild,
  device: deviceBuild,
};

export default defineConfig(({ mode }) => ({
  plugins: [wgslReflect(), wgslWithoutComments()],
  root: mode === 'demo' ? resolve(here, 'demo') : here,
  base: './',
  build: builds[mode] ?? libraryBuild,
  // The paper's runner bundles tfjs (its ES modules import files without extensions, which Node
  // cannot resolve); the GPU report's bundles everything but Dawn.
  ssr:
    mode === 'device'
      ? { noExternal: true, external: ['webgpu'] }
      : mode === 'paper'
        ? { noExternal: [/^@tensorflow\//] }
        : undefined,
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
          // A cold CPU adapter takes a minute or more to compile the shader modules a test's options need.
          testTimeout: 300_000,
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
