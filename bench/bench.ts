/**
 * The benchmark, shared by Node (Dawn) and the browser: one Adafactor step with each option set
 * of BENCH_CONFIGS (the defaults, a first moment in f32 and in bf16, caution) against a fused WGSL Adam step on the same tensors, both against the device's copy bandwidth
 * measured in the same run. Times come from GPU timestamp queries where the adapter has them,
 * else from onSubmittedWorkDone around each submitted step.
 */
import { Adafactor } from '../src/index.js';
import type { AdafactorOptions, KernelVariant } from '../src/core/options.js';
import { FusedAdam } from '../demo/adam.js';
import { CASES, LARGE_CASES, numel } from './cases.js';
import copySource from './copy.wgsl?raw';
import copyInterface from './copy.wgsl?reflect';
import copyBlocksSource from './copy_blocks.wgsl?raw';
import copyBlocksInterface from './copy_blocks.wgsl?reflect';
import { type JaxResult, formatJaxTable } from './jax_result.js';
import { type TfjsResult, formatTfjsTable } from './tfjs_result.js';
import { BufferUsage, MapMode } from '../src/gpu/usage.js';

/** Bytes an Adafactor step must move per f32 parameter: G read three times, X read twice and written once. */
export const BYTES_PER_PARAMETER = 24;

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
}
/**
 * The option sets timed on every case (`--config NAME` picks some): the defaults, then what a first
 * moment costs in f32 and in bf16, and caution on top of a bf16 one.
 */
export const BENCH_CONFIGS: Record<string, AdafactorOptions> = {
  defaults: {},
  'momentum f32': { beta1: 0.9 },
  'momentum bf16': { beta1: 0.9, momentumDtype: 'bf16' },
  'momentum bf16 + caution': { beta1: 0.9, momentumDtype: 'bf16', caution: true },
};

export interface CaseResult {
  name: string;
  /** The kernel variant timed ('auto' picks one per adapter; the row names the one it picked). */
  variant: string;
  /** The name of the option set timed (BENCH_CONFIGS). */
  config: string;
  params: number;
  tensors: number;
  adafactor: Timing & { dispatches: number; stateBytes: number };
  adam: Timing & { stateBytes: number };
  effectiveGBps: number;
  fractionOfCopy: number;
  /** With --profile: per kernel, the median over steps of its dispatches' summed pass times. */
  profile?: KernelProfile[];
}
export interface KernelProfile {
  kernel: string;
  dispatches: number;
  medianMs: number;
  minMs: number;
}
export interface BenchResult {
  adapter: { vendor: string; architecture: string; description: string };
  timer: 'timestamp-query' | 'onSubmittedWorkDone';
  /** GB/s of copy.wgsl, the yardstick of `fractionOfCopy`. */
  copyGBps: number;
  /** GB/s of copy_blocks.wgsl: four vec4s per invocation at a time. */
  blockCopyGBps: number;
  cases: CaseResult[];
  /** The TensorFlow.js side-by-side (bench/tfjs.ts), which the browser page runs after these. */
  tfjs?: TfjsResult;
  /** The jax-js side-by-side (bench/jax.ts), which the browser page runs when `--case jax` names it. */
  jax?: JaxResult;
}

/** Times `record` (which records one unit of work) `count` times after `warmup` untimed runs. */
class Timer {
  private readonly querySet: GPUQuerySet | undefined;
  private readonly resolve: GPUBuffer | undefined;
  private readonly readback: GPUBuffer | undefined;

  constructor(private readonly device: GPUDevice) {
    if (device.features.has('timestamp-query')) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolve = device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      this.readback = device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    }
  }

  get kind(): BenchResult['timer'] {
    return this.querySet ? 'timestamp-query' : 'onSubmittedWorkDone';
  }

  async time(record: (encoder: GPUCommandEncoder) => void, count: number, warmup = 3): Promise<Timing> {
    return summary(await this.samples(record, count, warmup));
  }

  /** Times of `count` runs after `warmup` untimed ones. */
  async samples(record: (encoder: GPUCommandEncoder) => void, count: number, warmup = 3): Promise<number[]> {
    const times: number[] = [];
    for (let run = 0; run < warmup + count; run++) {
      const ms = await this.once(record);
      if (run >= warmup) times.push(ms);
    }
    return times;
  }

  private async once(record: (encoder: GPUCommandEncoder) => void): Promise<number> {
    const encoder = this.device.createCommandEncoder();
    if (!this.querySet) {
      record(encoder);
      const started = performance.now();
      this.device.queue.submit([encoder.finish()]);
      await this.device.queue.onSubmittedWorkDone();
      return performance.now() - started;
    }
    // Empty passes whose timestamps bracket the work: the end of the first, the start of the last.
    encoder.beginComputePass({ timestampWrites: { querySet: this.querySet, endOfPassWriteIndex: 0 } }).end();
    record(encoder);
    encoder.beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 1 } }).end();
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve!, 0);
    encoder.copyBufferToBuffer(this.resolve!, 0, this.readback!, 0, 16);
    this.device.queue.submit([encoder.finish()]);
    await this.readback!.mapAsync(MapMode.READ);
    const [begin, end] = new BigInt64Array(this.readback!.getMappedRange().slice(0));
    this.readback!.unmap();
    return Number(end - begin) / 1e6;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summary(times: readonly number[]): Timing {
  return { medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times) };
}

/**
 * Each kernel's share of a step, over `steps` steps: every dispatch in a compute pass of its own,
 * bracketed by timestamp writes (the passes' sum runs a little over a whole step, which is one
 * pass). Adds each kernel's summed time per step to `perKernel`.
 */
async function profileKernels(
  device: GPUDevice,
  optimizer: Adafactor,
  steps: number,
  perKernel: Map<string, number[]>,
): Promise<void> {
  // The step program's dispatches, through the optimizer's engine (src/gpu/engine.ts).
  const engine = optimizer.engine;
  const kernels = engine.dispatches.map((d) => d.kernel);
  const count = 2 * kernels.length;
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolve = device.createBuffer({ size: 8 * count, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: 8 * count, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  for (let run = 0; run < steps + 2; run++) {
    const encoder = device.createCommandEncoder();
    engine.record(encoder, optimizer.stepCount + 1, (_kernel, i) => ({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    }));
    encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, 8 * count);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(MapMode.READ);
    const stamps = new BigInt64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    if (run < 2) continue;
    const sums = new Map<string, number>();
    kernels.forEach((k, i) => sums.set(k, (sums.get(k) ?? 0) + Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6));
    for (const [k, ms] of sums) perKernel.set(k, [...(perKernel.get(k) ?? []), ms]);
  }
  querySet.destroy();
  resolve.destroy();
  readback.destroy();
}

/** The profile of one optimizer from its kernels' times. */
function kernelProfile(optimizer: Adafactor, perKernel: Map<string, number[]>): KernelProfile[] {
  const kernels = optimizer.engine.dispatches.map((d) => d.kernel);
  return [...perKernel].map(([kernel, times]) => ({
    kernel,
    dispatches: kernels.filter((k) => k === kernel).length,
    medianMs: median(times),
    minMs: Math.min(...times),
  }));
}

function grid(workgroups: number, device: GPUDevice): [number, number] {
  const x = Math.min(workgroups, device.limits.maxComputeWorkgroupsPerDimension);
  return [x, Math.ceil(workgroups / x)];
}

/**
 * The copy kernels, with the vec4s each workgroup copies (read from the WGSL): copy.wgsl (the
 * yardstick; one vec4 per invocation), and copy_blocks.wgsl (four vec4s per invocation at a time).
 */
export const COPIES = [
  { source: copySource, vec4sPerWorkgroup: copyInterface.entryPoints.main[0] },
  { source: copyBlocksSource, vec4sPerWorkgroup: copyBlocksInterface.constants.PER_WORKGROUP },
];

/** A recorder of one run of a copy kernel over the whole of `source` (a multiple of 16 bytes) into `destination`. */
export function copyRecorder(
  device: GPUDevice,
  copy: (typeof COPIES)[number],
  source: GPUBuffer,
  destination: GPUBuffer,
): (encoder: GPUCommandEncoder) => void {
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: copy.source }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [source, destination].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const workgroups = grid(Math.ceil(source.size / 16 / copy.vec4sPerWorkgroup), device);
  return (encoder) => {
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...workgroups);
    pass.end();
  };
}

/** The tensors of `shapes`, back to back from offset 0 in one parameter and one gradient buffer. */
export function packedTensors(
  shapes: readonly number[][],
  param: GPUBuffer,
  grad: GPUBuffer,
  prefix: string,
): { param: GPUBuffer; grad: GPUBuffer; shape: number[]; paramOffset: number; gradOffset: number; name: string }[] {
  let offset = 0;
  return shapes.map((shape, i) => {
    const t = { param, grad, shape, paramOffset: offset * 4, gradOffset: offset * 4, name: `${prefix}.${i}` };
    offset += numel(shape);
    return t;
  });
}

/** GB/s of a WGSL copy kernel, bytes read plus written, over `bytes`-sized buffers. */
async function copyBandwidth(
  device: GPUDevice,
  timer: Timer,
  copy: (typeof COPIES)[number],
  bytes: number,
  count: number,
): Promise<number> {
  const source = device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE });
  const destination = device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE });
  const timing = await timer.time(copyRecorder(device, copy, source, destination), count);
  source.destroy();
  destination.destroy();
  return (2 * bytes) / (timing.medianMs * 1e6);
}

export interface BenchOptions {
  steps?: number;
  cases?: string[];
  /** Kernel variants to time on each case, interleaved ('auto' by default). */
  variants?: ('auto' | KernelVariant)[];
  /** Rounds per case: each round times Adam and every variant `steps` times, in turn. */
  rounds?: number;
  /** Option sets to time (names of BENCH_CONFIGS; all by default). */
  configs?: string[];
  /** Also time each kernel's dispatches alone (needs timestamp-query). */
  profile?: boolean;
  /** Cases the caller runs itself (the page's `tfjs`): `--case` may name them; runBench skips them. */
  otherCases?: string[];
  progress?: (message: string) => void;
}

/**
 * The options given on a command line (Node) or in a page's query string (the browser):
 * `--steps N`, `--case NAME`, `--variant NAME` and `--config NAME` (all repeatable), `--rounds N`,
 * `--profile`.
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    if (at >= 0 && args[at + 1] === undefined) throw new Error(`${flag} needs a value`);
    return at >= 0 ? Number(args[at + 1]) : undefined;
  };
  const steps = valueOf('--steps');
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 10))
    throw new Error('--steps needs a whole number of at least 10');
  const rounds = valueOf('--rounds');
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1))
    throw new Error('--rounds needs a whole number of at least 1');
  const all = (flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
  const cases = all('--case');
  const variants = all('--variant') as BenchOptions['variants'] & string[];
  const configs = all('--config');
  const unknown = configs.filter((name) => !(name in BENCH_CONFIGS));
  if (unknown.length > 0)
    throw new Error(
      `unknown --config ${unknown.join(', ')}; the option sets are ${Object.keys(BENCH_CONFIGS).join(', ')}`,
    );
  return {
    configs: configs.length > 0 ? configs : undefined,
    steps,
    rounds,
    cases: cases.length > 0 ? cases : undefined,
    variants: variants.length > 0 ? variants : undefined,
    profile: args.includes('--profile'),
  };
}

export async function runBench(
  device: GPUDevice,
  adapterInfo: GPUAdapterInfo | undefined,
  options: BenchOptions = {},
): Promise<BenchResult> {
  const steps = Math.max(10, options.steps ?? 10);
  const progress = options.progress ?? (() => {});
  // A GPU error (a pipeline the device refuses, say) would leave nothing to time: stop the run.
  let gpuError: string | undefined;
  device.addEventListener('uncapturederror', (event) => {
    gpuError ??= (event as GPUUncapturedErrorEvent).error.message;
  });
  const checkErrors = async (what: string) => {
    await device.queue.onSubmittedWorkDone();
    if (gpuError) throw new Error(`GPU error during ${what}: ${gpuError}`);
  };
  const timer = new Timer(device);
  progress(`timing with ${timer.kind}; measuring copy bandwidth`);
  const copyGBps = await copyBandwidth(device, timer, COPIES[0], 64 << 20, steps);
  const blockCopyGBps = await copyBandwidth(device, timer, COPIES[1], 64 << 20, steps);
  await checkErrors('the copy kernels');
  progress(`copy: ${copyGBps.toFixed(2)} GB/s; in blocks of four vec4s: ${blockCopyGBps.toFixed(2)} GB/s`);
  const all = [...CASES, ...LARGE_CASES];
  const known = [...all.map((c) => c.name), ...(options.otherCases ?? [])];
  const unknown = options.cases?.filter((name) => !known.includes(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown benchmark case ${unknown.join(', ')}; the cases are ${known.join(', ')}`);
  const cases: CaseResult[] = [];
  for (const c of options.cases ? all.filter((x) => options.cases!.includes(x.name)) : CASES) {
    const params = c.shapes.reduce((sum, s) => sum + numel(s), 0);
    progress(`${c.name}: ${c.shapes.length} tensors, ${params} parameters`);
    const bytes = params * 4;
    const initial = new Float32Array(params).map(() => Math.random() - 0.5);
    const buffers = [0, 1, 2, 3].map(() =>
      device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST }),
    );
    for (const b of buffers) device.queue.writeBuffer(b, 0, initial);
    const [param, grad, adamParam, adamGrad] = buffers;
    const tensors = packedTensors(c.shapes, param, grad, c.name);
    const runs = (options.variants ?? ['auto']).flatMap((variant) =>
      (options.configs ?? Object.keys(BENCH_CONFIGS)).map((config) => ({ variant, config })),
    );
    const optimizers = runs.map(
      ({ variant, config }) => new Adafactor(device, tensors, { ...BENCH_CONFIGS[config], kernelVariant: variant }),
    );
    const adam = new FusedAdam(device, adamParam, adamGrad, params);
    // Rounds interleave Adam and the variants, so that a slow spell of a shared machine hits all.
    const adamSamples: number[] = [];
    const samples = optimizers.map(() => [] as number[]);
    const profile = options.profile && device.features.has('timestamp-query');
    const kernelTimes = optimizers.map(() => new Map<string, number[]>());
    for (let round = 0; round < (options.rounds ?? 1); round++) {
      for (const [i, optimizer] of optimizers.entries()) {
        samples[i].push(...(await timer.samples((encoder) => optimizer.step(encoder), steps)));
        if (profile) await profileKernels(device, optimizer, steps, kernelTimes[i]);
        await checkErrors(`${c.name}: adafactor ${optimizer.kernelVariant}`);
      }
      adamSamples.push(...(await timer.samples((encoder) => adam.step(encoder), steps)));
      await checkErrors(`${c.name}: adam`);
    }
    const adamTime = summary(adamSamples);
    progress(`  adam: median ${adamTime.medianMs.toFixed(2)} ms`);
    for (const [i, optimizer] of optimizers.entries()) {
      const adafactorTime = summary(samples[i]);
      progress(
        `  adafactor ${optimizer.kernelVariant}, ${runs[i].config}: median ${adafactorTime.medianMs.toFixed(2)} ms`,
      );
      const effectiveGBps = (BYTES_PER_PARAMETER * params) / (adafactorTime.medianMs * 1e6);
      const kernels = profile ? kernelProfile(optimizer, kernelTimes[i]) : undefined;
      if (kernels) progress(`  profile: ${kernels.map((p) => `${p.kernel} ${p.medianMs.toFixed(2)}`).join(', ')} ms`);
      cases.push({
        name: c.name,
        variant: runs[i].variant === 'auto' ? `${optimizer.kernelVariant} (auto)` : optimizer.kernelVariant,
        config: runs[i].config,
        params,
        tensors: c.shapes.length,
        adafactor: { ...adafactorTime, dispatches: optimizer.dispatchesPerStep, stateBytes: optimizer.stateBytes },
        adam: { ...adamTime, stateBytes: adam.stateBytes },
        effectiveGBps,
        fractionOfCopy: effectiveGBps / copyGBps,
        profile: kernels,
      });
      optimizer.destroy();
    }
    adam.destroy();
    for (const b of buffers) b.destroy();
  }
  const info = adapterInfo ?? ({} as GPUAdapterInfo);
  return {
    adapter: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' },
    timer: timer.kind,
    copyGBps,
    blockCopyGBps,
    cases,
  };
}

/** The result as a Markdown table. */
export function formatTable(result: BenchResult): string {
  const lines = [
    `adapter: ${[result.adapter.vendor, result.adapter.architecture, result.adapter.description].filter(Boolean).join(' / ') || 'unknown'}; timer: ${result.timer}; copy bandwidth ${result.copyGBps.toFixed(2)} GB/s (copy.wgsl; copy_blocks.wgsl: ${result.blockCopyGBps.toFixed(2)} GB/s)`,
  ];
  if (result.cases.length > 0) {
    lines.push(
      '',
      '| case | variant | options | params | tensors | Adafactor median (min-max) ms | dispatches | Adam median ms | Adafactor / Adam time | effective GB/s | fraction of copy | fraction of block copy | state bytes / param | state Adafactor / Adam |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
  }
  for (const c of result.cases) {
    const a = c.adafactor;
    lines.push(
      `| ${c.name} | ${c.variant} | ${c.config} | ${c.params.toLocaleString('en-US')} | ${c.tensors} | ${a.medianMs.toFixed(2)} (${a.minMs.toFixed(2)}-${a.maxMs.toFixed(2)}) | ${a.dispatches} | ${c.adam.medianMs.toFixed(2)} | ${(a.medianMs / c.adam.medianMs).toFixed(2)} | ${c.effectiveGBps.toFixed(2)} | ${c.fractionOfCopy.toFixed(2)} | ${(c.effectiveGBps / result.blockCopyGBps).toFixed(2)} | ${(a.stateBytes / c.params).toFixed(3)} | ${((100 * a.stateBytes) / c.adam.stateBytes).toFixed(2)}% |`,
    );
  }
  const profiled = result.cases.filter((c) => c.profile);
  if (profiled.length > 0) {
    const kernels = [...new Set(profiled.flatMap((c) => c.profile!.map((p) => p.kernel)))];
    lines.push(
      '',
      'Per kernel, each dispatch in a pass of its own (median (min) ms per step):',
      '',
      `| case | variant | options | ${kernels.join(' | ')} | sum |`,
      `|---|---|---|${kernels.map(() => '---:|').join('')}---:|`,
    );
    for (const c of profiled) {
      const ms = (k: string) => {
        const p = c.profile!.find((x) => x.kernel === k);
        return p ? `${p.medianMs.toFixed(2)} (${p.minMs.toFixed(2)})` : '';
      };
      const total = (key: 'medianMs' | 'minMs') => c.profile!.reduce((sum, p) => sum + p[key], 0).toFixed(2);
      lines.push(
        `| ${c.name} | ${c.variant} | ${c.config} | ${kernels.map(ms).join(' | ')} | ${total('medianMs')} (${total('minMs')}) |`,
      );
    }
  }
  if (result.tfjs) lines.push('', formatTfjsTable(result.tfjs));
  if (result.jax) lines.push('', formatJaxTable(result.jax));
  return lines.join('\n');
}
