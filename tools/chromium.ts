/**
 * Headless Chromium with WebGPU, for the browser suites, the demo test and the browser bench.
 * No browser is downloaded: PUPPETEER_EXECUTABLE_PATH, else the system's Chromium or Chrome, else
 * one already in puppeteer's cache.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer';

/** Flags that give headless Chromium WebGPU on a machine without a GPU (SwiftShader). */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function findChromium(): string {
  const fromEnv = process.env.PUPPETEER_EXECUTABLE_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`PUPPETEER_EXECUTABLE_PATH is ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not on PATH; try the next
    }
  }
  try {
    const cached = puppeteer.executablePath();
    if (existsSync(cached)) return cached;
  } catch {
    // puppeteer has no browser of its own either
  }
  throw new Error(
    'No Chromium found for the browser tests. Install one (Debian/Ubuntu: `apt-get install chromium`), ' +
      'or set PUPPETEER_EXECUTABLE_PATH to a Chrome or Chromium binary.',
  );
}

export async function launchChromium(flags: readonly string[] = CHROMIUM_FLAGS): Promise<Browser> {
  return puppeteer.launch({
    executablePath: findChromium(),
    headless: true,
    args: [...flags],
    protocolTimeout: 600_000,
  });
}

/**
 * Collects what goes wrong in a page: uncaught exceptions, failed requests and console errors.
 * `take()` returns and clears them; a test fails when it is not empty.
 */
export function watchPage(page: Page): { take: () => string[] } {
  const problems: string[] = [];
  page.on('pageerror', (error) =>
    problems.push(`uncaught exception in the page: ${error instanceof Error ? error.message : String(error)}`),
  );
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  page.on('console', (message) => {
    // Chromium reports WebGPU validation errors nobody caught as console warnings.
    const gpuError = message.type() === 'warn' && /While (calling|validating)|is invalid|error:/.test(message.text());
    if (message.type() === 'error' || gpuError)
      problems.push(`console error in the page: ${message.text()} (${message.location()?.url ?? 'no location'})`);
  });
  return { take: () => problems.splice(0) };
}
