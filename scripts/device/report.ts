/**
 * The GPU report, run by scripts/device/run.sh on a machine with a GPU (or here on lavapipe with
 * `--quick`): on WebGPU in Node (Dawn), the benchmark (every case and a 124M-parameter one, every
 * kernel variant, Adam, both copy kernels, each kernel alone), the TensorFlow.js side-by-side, and
 * the paper's experiment; writes report.json and report.md into the output folder, each part as
 * soon as it is done, so that a run stopped by its time limit leaves what it finished.
 *
 *   node report.js --out DIR [--quick] [--seconds N] [--parts device,benchmark,tfjs,paper] [--paper-steps N]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { type BenchResult, formatTable, runBench } from '../../bench/bench.js';
import { runTfjsBench } from '../../bench/tfjs.js';
import { formatTfjsTable, type TfjsResult } from '../../bench/tfjs_result.js';
import { CONFIGS } from '../../demo/paper/configs.js';
import { type PaperResult, statsEvery } from '../../demo/paper/experiment.js';
import { formatReport, jsonReport } from '../../demo/paper/runner/cli.js';
import { runInNode, startNodeBackend } from '../../demo/paper/runner/node.js';
import { KERNEL_VARIANT_NAMES } from '../../src/core/options.js';
import { autoVariant } from '../../src/gpu/kernels.js';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : undefined;
if (!out) throw new Error('usage: node report.js --out DIR [--quick] [--seconds N]');
const quick = args.includes('--quick');
const secondsAt = args.indexOf('--seconds');
// The whole report's time budget: the paper stops where it has reached when it runs out.
const budgetSeconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : quick ? 280 : 500;
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const log = (line: string) => console.error(`[${elapsed().toFixed(0)} s] ${line}`);

const partsAt = args.indexOf('--parts');
const parts = partsAt >= 0 ? args[partsAt + 1].split(',') : ['device', 'benchmark', 'tfjs', 'paper'];
const paperStepsAt = args.indexOf('--paper-steps');

const size = quick
  ? { cases: ['large-matrix', 'transformer', 'many-small'], rounds: 1, steps: 10, paperSteps: 5 }
  : { cases: ['large-matrix', 'transformer', 'many-small', 'gpt2-small'], rounds: 3, steps: 20, paperSteps: 2000 };

interface Report {
  size: string;
  node: string;
  adapter?: Record<string, string>;
  limits?: Record<string, number>;
  bench?: BenchResult;
  tfjs?: TfjsResult;
  paper?: ReturnType<typeof JSON.parse>;
  paperSeconds?: number;
  errors: string[];
  seconds?: number;
}
const report: Report = { size: quick ? 'quick' : 'full', node: process.version, errors: [] };
const markdown: string[] = [];

function save(): void {
  report.seconds = elapsed();
  writeFileSync(join(out!, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out!, 'report.md'), markdown.join('\n\n') + '\n');
}

/** Runs one part; a part that fails is reported, and the next still runs. */
async function part(name: string, body: () => Promise<void>): Promise<void> {
  if (!parts.includes(name)) return;
  log(`${name}: starting`);
  try {
    await body();
    log(`${name}: done`);
  } catch (error) {
    const message = `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    log(message);
    report.errors.push(message);
  }
  save();
}

Object.assign(globalThis, globals);
// Kept referenced: Dawn crashes if the GPU instance is collected while its devices live.
// Timestamps unquantized: Dawn rounds them to 2^16 ns by default, coarser than a GPU's whole step.
const gpu = create(['disable-dawn-features=timestamp_quantization']);

await part('device', async () => {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter: is a Vulkan driver installed?');
  const info = adapter.info;
  report.adapter = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
  };
  const names = [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupsPerDimension',
    'maxComputeInvocationsPerWorkgroup',
  ] as const;
  report.limits = Object.fromEntries(names.map((n) => [n, adapter.limits[n]]));
  markdown.push(
    `# GPU report (${report.size})`,
    `Adapter: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')}; Node ${process.version}; ` +
      `features: ${[...adapter.features].sort().join(', ')}; limits: ${names.map((n) => `${n} ${adapter.limits[n]}`).join(', ')}`,
  );
});

await part('benchmark', async () => {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  const device = await adapter!.requestDevice({
    requiredFeatures: adapter!.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxBufferSize: adapter!.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter!.limits.maxStorageBufferBindingSize,
    },
  });
  try {
    const auto = autoVariant(adapter!.info);
    report.bench = await runBench(device, adapter!.info, {
      cases: size.cases,
      variants: KERNEL_VARIANT_NAMES.map((v) => (v === auto ? 'auto' : v)),
      rounds: size.rounds,
      steps: size.steps,
      profile: true,
      progress: log,
    });
    markdown.push('## Benchmark (`npm run bench`, every variant, each kernel alone)', formatTable(report.bench));
  } finally {
    device.destroy();
  }
});

await part('tfjs', async () => {
  await startNodeBackend();
  report.tfjs = await runTfjsBench({ steps: size.steps, rounds: size.rounds, progress: log });
  markdown.push('## TensorFlow.js side by side (tfjs webgpu backend on Dawn)', formatTfjsTable(report.tfjs));
});

await part('paper', async () => {
  const paperStarted = performance.now();
  const steps = paperStepsAt >= 0 ? Number(args[paperStepsAt + 1]) : size.paperSteps;
  // Each configuration gets an equal share of the time left: one that runs out ends early.
  const share = Math.max(1, (budgetSeconds - elapsed()) / CONFIGS.length);
  let configStarted = performance.now();
  let stoppedAt: string | undefined;
  const result: PaperResult = await runInNode({ steps, statsEvery: statsEvery(steps) }, log, {
    onConfigStart: () => (configStarted = performance.now()),
    endConfig: () => {
      if ((performance.now() - configStarted) / 1000 < share) return false;
      stoppedAt ??= `each configuration had ${share.toFixed(0)} s of the time budget (${budgetSeconds} s in all)`;
      return true;
    },
  });
  report.paperSeconds = (performance.now() - paperStarted) / 1000;
  report.paper = JSON.parse(jsonReport(result, steps, 'node'));
  const ran = result.configs.map((c) => `${c.name} ${c.losses.length}`).join(', ');
  markdown.push(
    `## The paper's experiment (\`npm run paper -- --engine node --steps ${steps}\`)`,
    (stoppedAt ? `**Incomplete: ${stoppedAt}.** Steps run: ${ran}.\n\n` : '') +
      formatReport(result, steps, report.paperSeconds, 'node'),
  );
});

report.seconds = elapsed();
save();
log(`wrote ${join(out, 'report.json')} and report.md`);
process.exit(report.errors.length > 0 ? 1 : 0);
