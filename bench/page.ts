/**
 * The benchmark in a browser page: `window.bench` resolves to the result; progress goes to the
 * log. After runBench's cases, the TensorFlow.js side-by-side (`--case tfjs`) on tfjs's own device,
 * and when named, the jax-js side-by-side (`--case jax`) on jax-js's.
 */
import { type BenchResult, formatTable, parseBenchArgs, runBench } from './bench.js';
import { runJaxBench } from './jax.js';
import { JAX_CASE } from './jax_result.js';
import { runTfjsBench } from './tfjs.js';
import { TFJS_CASE } from './tfjs_result.js';

declare global {
  interface Window {
    bench: Promise<BenchResult>;
    benchProgress?: (message: string) => void;
  }
}

const log = document.getElementById('log')!;
const progress = (message: string) => {
  log.textContent += `\n${message}`;
  window.benchProgress?.(message);
};

window.bench = (async () => {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter in this browser');
  const features: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize },
  });
  const args = JSON.parse(new URLSearchParams(location.search).get('args') ?? '[]') as string[];
  const options = { ...parseBenchArgs(args), otherCases: [TFJS_CASE, JAX_CASE], progress };
  const result = await runBench(device, adapter.info, options);
  device.destroy();
  if (!options.cases || options.cases.includes(TFJS_CASE)) result.tfjs = await runTfjsBench(options);
  if (options.cases?.includes(JAX_CASE)) result.jax = await runJaxBench(options);
  log.textContent += `\n\n${formatTable(result)}`;
  return result;
})();
