/**
 * A page of test/browser served by Vite from the library's sources and opened in headless
 * Chromium, for the browser suites that drive a page with puppeteer.
 */
import { resolve } from 'node:path';
import type { Browser, Page } from 'puppeteer';
import { type ViteDevServer, createServer } from 'vite';
import { launchChromium, watchPage } from '../../tools/chromium.js';

const root = resolve(import.meta.dirname, '../..');

export interface DevPage {
  server: ViteDevServer;
  browser: Browser;
  page: Page;
  /** What went wrong in the page so far (see watchPage). */
  problems: { take: () => string[] };
  close: () => Promise<void>;
}

/**
 * Serves test/browser and opens `file` there. `bundle` lists the dependencies to bundle up front:
 * discovering one while a test runs would make Vite reload the page.
 */
export async function openDevPage(file: string, bundle: string[]): Promise<DevPage> {
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    root: resolve(root, 'test/browser'),
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    optimizeDeps: { include: bundle, noDiscovery: true },
    logLevel: 'error',
  });
  await server.listen();
  const browser = await launchChromium();
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(new URL(file, server.resolvedUrls!.local[0]).href, { waitUntil: 'load' });
  return {
    server,
    browser,
    page,
    problems,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
