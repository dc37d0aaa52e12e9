/**
 * The browser side of test/browser/jax.test.ts: the jax entry on jax-js's webgpu backend, with
 * and without jit, against the float64 reference on random inputs and against Hugging Face's and
 * optax's golden traces, each check run on request through `window.jaxChecks` so that results
 * come back to the test runner test by test.
 */
import { defaultDevice, init } from '@jax-js/jax';
import { GOLDEN_SUITES, OPTION_SETS, checkAgainstReference, replayGolden } from '../gpu/jax.js';

/** jax-js's webgpu backend, made the default device; throws where this Chromium has none. */
async function startWebGpu(): Promise<string> {
  if (!navigator.gpu)
    throw new Error('navigator.gpu is missing: this Chromium has no WebGPU (start it with --enable-unsafe-webgpu)');
  const devices = await init('webgpu');
  if (!devices.includes('webgpu'))
    throw new Error(`jax-js's init('webgpu') returned [${devices.join(', ')}]: no webgpu backend in this Chromium`);
  defaultDevice('webgpu');
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter?.info;
  return info ? `${info.vendor} / ${info.architecture} / ${info.description}` : 'unknown adapter';
}

const ready = startWebGpu();

/** The option set `name` against the float64 reference (checkAgainstReference), on webgpu. */
async function againstReference(name: string, jitted: boolean, seed: number): Promise<number> {
  await ready;
  const found = OPTION_SETS.find(([n]) => n === name);
  if (!found) throw new Error(`no option set named '${name}'`);
  return checkAgainstReference(found[1], { jitted, seed, device: 'webgpu' });
}

/** The golden case `name` of `library`'s traces through its preset (replayGolden), on webgpu. */
async function golden(library: string, name: string, jitted: boolean): Promise<void> {
  await ready;
  const found = GOLDEN_SUITES[library]?.find((c) => c.name === name);
  if (!found) throw new Error(`no ${library} trace named '${name}'`);
  await replayGolden(found, { jitted, device: 'webgpu' });
}

declare global {
  interface Window {
    jaxChecks: { ready: Promise<string>; againstReference: typeof againstReference; golden: typeof golden };
  }
}

window.jaxChecks = { ready, againstReference, golden };
