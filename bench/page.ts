/** The benchmark in a browser page: `window.bench` resolves to the result; progress goes to the log. */
import { type BenchResult, formatTable, parseBenchArgs, runBench } from './bench.js';

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
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize } });
  const args = JSON.parse(new URLSearchParams(location.search).get('args') ?? '[]') as string[];
  const result = await runBench(device, adapter.info, { ...parseBenchArgs(args), progress });
  log.textContent += `\n\n${formatTable(result)}`;
  device.destroy();
  return result;
})();
