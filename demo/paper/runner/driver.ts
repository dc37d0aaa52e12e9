/**
 * Drives demo/paper.html in headless Chromium (SwiftShader WebGPU where there is no GPU): Vite
 * serves the demo from the sources, the page trains the chosen configurations, and its result
 * comes back. Used by `npm run paper` (./main.ts) and test/browser/paper.test.ts.
 */
import { resolve } from 'node:path';
import { createServer } from 'vite';
import { type PaperResult, statsEvery } from '../experiment.js';
import { launchChromium, watchPage } from '../../../tools/chromium.js';

/** The repository (npm runs scripts there; this file is also bundled elsewhere, so not its own folder). */
const root = process.cwd();

/** The dependencies the page imports, bundled up front: one found while it runs would reload it. */
const BUNDLE = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-core/dist/register_all_gradients',
  '@tensorflow/tfjs-backend-webgpu',
  'uplot',
];

export interface PaperDriveOptions {
  steps: number;
  configs?: number[];
  batchSeed?: number;
  onProgress?: (line: string) => void;
}

export async function drivePaper({ steps, configs, batchSeed, onProgress }: PaperDriveOptions): Promise<PaperResult> {
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    mode: 'demo',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    optimizeDeps: { include: BUNDLE, noDiscovery: true },
    logLevel: 'error',
  });
  await server.listen();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const problems = watchPage(page);
    await page.exposeFunction('paperProgress', (line: string) => onProgress?.(line));
    // The result comes back through a binding, not as evaluate's value: a run outlasts puppeteer's protocol timeout.
    const finished = new Promise<PaperResult>((done, fail) => {
      void page.exposeFunction('paperDone', (result: PaperResult) => done(result));
      void page.exposeFunction('paperFailed', (message: string) =>
        fail(new Error(`the paper page failed: ${message}`)),
      );
    });
    await page.goto(new URL('paper.html', server.resolvedUrls!.local[0]).href, { waitUntil: 'load' });
    await page.waitForFunction(() => window.paper?.ready || window.paper?.error != null, { timeout: 120_000 });
    const error = await page.evaluate(() => window.paper.error);
    if (error) throw new Error(`the paper page could not start: ${error}`);
    await page.evaluate(
      (options) => {
        window.paper
          .run(options)
          .then(window.paperDone, (error) =>
            window.paperFailed!(error instanceof Error ? error.message : String(error)),
          );
      },
      { steps, configs, batchSeed, statsEvery: statsEvery(steps) },
    );
    const result = await finished;
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}
