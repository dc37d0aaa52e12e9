/** The README's example runs as written (on Dawn) and prints what its comment says. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Adafactor } from '../../src/index.js';
import { useDevice } from './device.js';

const gpu = useDevice();

it("the README's example runs and prints what it says", async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const example = readme.slice(readme.indexOf('## Use')).match(/```ts\n([\s\S]*?)```/)![1];
  const expected = example.match(/console\.log\(.*\); \/\/ (.*)/)![1];
  const body = example.replace(/^import .*$/m, '');
  const printed: string[] = [];
  const navigator = { gpu: { requestAdapter: async () => ({ requestDevice: async () => gpu.device }) } };
  const console = { log: (...values: unknown[]) => printed.push(values.join(' ')) };
  // The device is the test's: the example must not destroy it, only its own optimizer.
  const run = new Function('Adafactor', 'navigator', 'console', 'GPUBufferUsage', `return (async () => {${body}})();`);
  await run(Adafactor, navigator, console, globalThis.GPUBufferUsage);
  expect(printed).toEqual([expected]);
});
