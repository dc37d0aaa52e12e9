/**
 * `npm run bench`: the benchmark on WebGPU in Node (Dawn). `--json FILE` writes the result;
 * `--steps N` times N steps per case (at least 10); `--case NAME` (repeatable) runs only those cases;
 * `--variant NAME` (repeatable: 'auto' or a kernel variant) times those, `--config NAME`
 * (repeatable: an option set of BENCH_CONFIGS, all by default) those, `--rounds N` interleaved
 * with Adam N times; `--profile` also times each kernel alone.
 */
import { writeFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { formatTable, parseBenchArgs, runBench } from './bench.js';

Object.assign(globalThis, globals);

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && !jsonFile) throw new Error('--json needs a file name');

// Exported so that no bundler drops the reference: Dawn crashes if the GPU instance is
// collected while its devices live.
// Timestamps unquantized: Dawn rounds them to 2^16 ns by default, coarser than a GPU's whole step.
export const gpu = create(['disable-dawn-features=timestamp_quantization']);
const adapter = await gpu.requestAdapter();
if (!adapter)
  throw new Error(
    'No WebGPU adapter in Node: install a Vulkan driver (Mesa lavapipe from bookworm-backports; run: sudo bash tools/install-system.sh)',
  );
const useTimestamps = adapter.features.has('timestamp-query') && !args.includes('--no-timestamps');
const features: GPUFeatureName[] = useTimestamps ? ['timestamp-query'] : [];
const device = await adapter.requestDevice({
  requiredFeatures: features,
  requiredLimits: {
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  },
});
const result = await runBench(device, adapter.info, { ...parseBenchArgs(args), progress: (m) => console.error(m) });
console.log(formatTable(result));
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
  console.error(`wrote ${jsonFile}`);
}
device.destroy();
