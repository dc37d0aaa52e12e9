/**
 * A browser user's first hour, as that user has it: the packed package installed into a fresh
 * Vite + TypeScript app beside @tensorflow/tfjs, its webgpu backend and the TypeScript they pick.
 * Both entries type-check under every module resolution (node10, node16 and nodenext from
 * CommonJS and from ES modules, bundler) with TypeScript 5.9 (WebGPU's types from @webgpu/types)
 * and TypeScript 7 (from its DOM library), with no error in the package's own declarations; the
 * app (test/fresh-app/: a tfjs model with zero-initialised biases in a bias group, and the raw
 * Adafactor on tfjs's own device) builds with `vite build` and runs in headless Chromium.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchPage } from '../../tools/chromium.js';
import { installedVersion, packInto } from '../../tools/pack.js';
import { type StaticServer, serveStatic } from '../../tools/serve.js';

const repo = resolve(import.meta.dirname, '../..');

/** What the app (test/fresh-app/src/main.ts) leaves on its window. */
interface AppWindow {
  result?: { losses: number[]; biasRms: number[]; rawChanged: number; rawCount: number };
  failure?: string;
}
let folder = '';
let app = '';
let server: StaticServer | undefined;
let browser: Browser | undefined;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'webgpu-adafactor-app-'));
  const tarball = packInto(repo, folder);
  app = join(folder, 'app');
  cpSync(join(repo, 'test/fresh-app'), app, { recursive: true });
  const tfjs = installedVersion(repo, '@tensorflow/tfjs-core');
  const dependencies = {
    'webgpu-adafactor': `file:${tarball}`,
    '@tensorflow/tfjs': tfjs,
    '@tensorflow/tfjs-backend-webgpu': installedVersion(repo, '@tensorflow/tfjs-backend-webgpu'),
    '@webgpu/types': installedVersion(repo, '@webgpu/types'),
    typescript: installedVersion(repo, 'typescript'),
    typescript7: 'npm:typescript@^7.0.0',
    vite: installedVersion(repo, 'vite'),
  };
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'a-browser-app', private: true, type: 'module', dependencies }, null, 2),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'], {
    cwd: app,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** TypeScript 5.9 (the repository's) and 7 (npm's latest major), by the path of their tsc. */
const COMPILERS = { '5.9': 'node_modules/typescript/bin/tsc', '7': 'node_modules/typescript7/bin/tsc' };

interface Setup {
  typescript: keyof typeof COMPILERS;
  /** compilerOptions.module and moduleResolution. */
  module: string;
  resolution: string;
  /** The consumer's package type (node16 and nodenext read it). */
  packageType: 'commonjs' | 'module';
  /** Where WebGPU's types come from. */
  webgpuTypes: '@webgpu/types' | 'dom';
}

const SETUPS: Setup[] = [
  ...(
    [
      ['commonjs', 'node10', 'commonjs'],
      ['node16', 'node16', 'commonjs'],
      ['node16', 'node16', 'module'],
      ['nodenext', 'nodenext', 'commonjs'],
      ['nodenext', 'nodenext', 'module'],
      ['esnext', 'bundler', 'module'],
    ] as const
  ).map(([module, resolution, packageType]) => ({
    typescript: '5.9' as const,
    module,
    resolution,
    packageType,
    webgpuTypes: '@webgpu/types' as const,
  })),
  // TypeScript 7 has no node10, and WebGPU's types in its DOM library.
  ...(
    [
      ['node16', 'node16', 'commonjs'],
      ['node16', 'node16', 'module'],
      ['nodenext', 'nodenext', 'commonjs'],
      ['nodenext', 'nodenext', 'module'],
      ['esnext', 'bundler', 'module'],
    ] as const
  ).map(([module, resolution, packageType]) => ({
    typescript: '7' as const,
    module,
    resolution,
    packageType,
    webgpuTypes: 'dom' as const,
  })),
];

/** Type-checks `files` of the folder types-<packageType> under `setup`; returns tsc's error lines. */
function typeCheck(setup: Setup, files: string[], skipLibCheck: boolean): string[] {
  const dir = join(app, `types-${setup.packageType}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: setup.packageType }));
  for (const file of readdirSync(join(app, 'types'))) cpSync(join(app, 'types', file), join(dir, file));
  const name = `tsconfig-${setup.typescript}-${setup.resolution}-${skipLibCheck}-${files.length}.json`;
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: 'es2022',
    module: setup.module,
    moduleResolution: setup.resolution,
    lib: ['es2022', 'dom'],
    types: setup.webgpuTypes === 'dom' ? [] : ['@webgpu/types'],
    skipLibCheck,
  };
  writeFileSync(join(dir, name), JSON.stringify({ compilerOptions, files }));
  const result = spawnSync('node', [join(app, COMPILERS[setup.typescript]), '-p', name], {
    cwd: dir,
    encoding: 'utf8',
  });
  return `${result.stdout}${result.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line));
}

describe('a fresh Vite + TypeScript app with the packed package and TensorFlow.js', () => {
  it('both entries type-check under every module resolution, TypeScript 5.9 and 7, with no error in the package', () => {
    const report: string[] = [];
    for (const setup of SETUPS) {
      const what = `TypeScript ${setup.typescript}, ${setup.resolution} (${setup.packageType} consumer), WebGPU's types from ${setup.webgpuTypes}`;
      // The main entry needs nothing but WebGPU's types: a full check, declarations included.
      expect(typeCheck(setup, ['consumer.ts'], false), `${what}: the main entry`).toEqual([]);
      // tfjs's own declarations have errors of their own (a missing 'Long'; a second copy of
      // @webgpu/types, which also clashes with TypeScript 7's DOM library): none may be in the
      // package's declarations, the consumer's code or the options, and skipLibCheck leaves none.
      const full = typeCheck(setup, ['tfjs-consumer.ts'], false);
      const ours = (line: string) => /^(tfjs-consumer\.ts|error )|node_modules\/webgpu-adafactor\//.test(line);
      expect(full.filter(ours), `${what}: the tfjs entry`).toEqual([]);
      expect(typeCheck(setup, ['tfjs-consumer.ts'], true), `${what}: the tfjs entry with skipLibCheck`).toEqual([]);
      report.push(`${what}: ok (tfjs's own declarations: ${full.length} errors without skipLibCheck)`);
    }
    console.log(report.join('\n'));
  }, 600_000);

  it("builds with vite build, and runs in headless Chromium: the loss falls, the bias group learns, the raw optimizer steps on tfjs's device", async () => {
    // The app's own code under bundler resolution, as Vite users check it.
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        lib: ['es2022', 'dom'],
        types: ['@webgpu/types'],
        skipLibCheck: true,
      },
      include: ['src'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    const check = spawnSync('node', [join(app, COMPILERS['5.9']), '-p', 'tsconfig.json'], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' });

    server = await serveStatic(join(app, 'dist'));
    browser = await launchChromium();
    const page = await browser.newPage();
    const problems = watchPage(page);
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(
      () => (window as AppWindow).result !== undefined || (window as AppWindow).failure !== undefined,
      { timeout: 240_000 },
    );
    const failure = await page.evaluate(() => (window as AppWindow).failure);
    expect(failure).toBeUndefined();
    const result = (await page.evaluate(() => (window as AppWindow).result))!;
    console.log(
      `fresh app: loss ${result.losses[0].toFixed(3)} -> ${result.losses.at(-1)!.toFixed(3)}, biases' RMS ${result.biasRms.map((b) => b.toFixed(3)).join(', ')}, raw parameters changed ${result.rawChanged} of ${result.rawCount}`,
    );
    expect(problems.take()).toEqual([]);
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(result.losses.at(-1)!).toBeLessThan(0.5 * result.losses[0]);
    // Zero at the start; with the defaults they would move about 1e-5 a step (4e-4 in 40 steps).
    for (const bias of result.biasRms) expect(bias).toBeGreaterThan(0.01);
    expect(result.rawChanged).toBe(result.rawCount);
  }, 600_000);

  it("reports the tfjs entry's bundle cost", () => {
    // What `webgpu-adafactor/tfjs` adds to an app that already has tfjs: bundled and minified by Vite, tfjs left out.
    writeFileSync(join(app, 'cost.js'), "export { AdafactorOptimizer } from 'webgpu-adafactor/tfjs';\n");
    writeFileSync(
      join(app, 'cost.config.js'),
      `export default { build: { outDir: 'cost-dist', lib: { entry: 'cost.js', formats: ['es'], fileName: 'cost' }, rollupOptions: { external: [/^@tensorflow\\//] }, minify: true } };\n`,
    );
    execFileSync('npx', ['vite', 'build', '--config', 'cost.config.js', '--logLevel', 'warn'], {
      cwd: app,
      stdio: 'pipe',
    });
    const code = readFileSync(join(app, 'cost-dist/cost.js'));
    const gzip = gzipSync(code, { level: 9 }).length;
    console.log(`the tfjs entry's bundle cost: ${code.length} bytes minified, ${gzip} bytes gzip`);
    expect(code.length).toBeGreaterThan(10_000);
  }, 120_000);
});
