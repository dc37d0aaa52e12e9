/** `npm run bench:browser`: the benchmark in headless Chromium. `--json FILE` writes the result; the other options are Node's (bench/node.ts), passed to the page in its query string. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer } from 'vite';
import { launchChromium, watchPage } from '../tools/chromium.js';
import { type BenchResult, formatTable, parseBenchArgs } from './bench.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && !jsonFile) throw new Error('--json needs a file name');
const pageArgs = jsonAt >= 0 ? args.filter((_, i) => i !== jsonAt && i !== jsonAt + 1) : args;
parseBenchArgs(pageArgs); // checked here, where a mistake is easy to read

const root = process.cwd();
const server = await createServer({
  configFile: resolve(root, 'vite.config.ts'),
  root: resolve(root, 'bench'),
  server: { host: '127.0.0.1', port: 0, hmr: false, watch: null },
  logLevel: 'error',
});
await server.listen();
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.exposeFunction('benchProgress', (message: string) => console.error(message));
  const url = new URL('index.html', server.resolvedUrls!.local[0]);
  url.searchParams.set('args', JSON.stringify(pageArgs));
  await page.goto(url.href, { waitUntil: 'load' });
  await page.waitForFunction(() => 'bench' in window, { timeout: 60_000 });
  const result = (await page.evaluate(() => window.bench)) as BenchResult;
  const found = problems.take();
  if (found.length > 0) throw new Error(found.join('\n'));
  console.log(formatTable(result));
  if (jsonFile) {
    writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
    console.error(`wrote ${jsonFile}`);
  }
} finally {
  await browser.close();
  await server.close();
}
