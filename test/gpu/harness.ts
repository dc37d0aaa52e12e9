/**
 * Helpers for GPU tests, with no Node or browser APIs: the same checks run on Dawn in Node and
 * in headless Chromium. GPU results are always compared with the float64 CPU reference.
 */
import {
  Adafactor,
  type AdafactorOptions,
  type AdafactorParam,
  ReferenceAdafactor,
  type StepStats,
} from '../../src/index.js';
import { SHADER } from '../../src/gpu/interface.js';
import { BufferUsage, MapMode } from '../../src/gpu/usage.js';

/** The one tolerance of GPU against the float64 reference: max |x - x_ref| / RMS(x_ref). */
export const TOLERANCE = 1e-5;

/** max |a - b| / RMS(b); NaN anywhere counts as an infinite error. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  let squares = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    squares += expected[i] * expected[i];
  }
  const scale = Math.sqrt(squares / Math.max(1, expected.length));
  return scale === 0 ? worst : worst / scale;
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tolerance = TOLERANCE,
): void {
  const error = relativeError(actual, expected);
  if (!(error <= tolerance)) {
    let at = 0;
    for (let i = 0; i < expected.length; i++) {
      if (!(Math.abs(actual[i] - expected[i]) <= Math.abs(actual[at] - expected[at]))) at = i;
    }
    throw new Error(
      `${what}: max |x - x_ref| / RMS(x_ref) = ${error.toExponential(3)} > ${tolerance} (worst at element ${at}: ${actual[at]} vs ${expected[at]})`,
    );
  }
}

/**
 * 1e-5 of RMS(x); 1e-4 with a 16-bit M, which an f32 and a float64 computation may round to
 * neighbouring 16-bit values.
 */
export function toleranceFor(options: AdafactorOptions): number {
  return options.momentumDtype === 'bf16' || options.momentumDtype === 'f16' ? 1e-4 : 1e-5;
}

/** |a - b| <= tolerance * |b|, field by field. */
export function expectStatsClose(actual: StepStats, expected: StepStats, what: string, tolerance = 1e-5): void {
  for (const key of ['paramRms', 'stepSize', 'updateRms', 'clipDivisor'] as const) {
    const error = Math.abs(actual[key] - expected[key]) / Math.abs(expected[key]);
    if (!(error <= tolerance))
      throw new Error(`${what}: ${key} ${actual[key]} vs ${expected[key]} (relative error ${error.toExponential(2)})`);
  }
}

/** A buffer of at least `bytes` (and 16) bytes; `multipleOf` 16 lets the optimizer read it as quads. */
export function createBuffer(device: GPUDevice, bytes: number, label = 'test', multipleOf = 4): GPUBuffer {
  return device.createBuffer({
    label,
    size: Math.max(16, Math.ceil(bytes / multipleOf) * multipleOf),
    usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
  });
}

export async function readFloats(
  device: GPUDevice,
  buffer: GPUBuffer,
  byteOffset = 0,
  length = (buffer.size - byteOffset) / 4,
): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: Math.max(4, length * 4),
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  if (length > 0) encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, length * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(MapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, length * 4));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Fills a buffer from `byteOffset` on with one float (NaN by default): elements nobody writes stay so. */
export function poison(device: GPUDevice, buffer: GPUBuffer, value = NaN, byteOffset = 0): void {
  device.queue.writeBuffer(buffer, byteOffset, new Float32Array((buffer.size - byteOffset) / 4).fill(value));
}

/**
 * Tensors packed into one parameter buffer and one gradient buffer, with poisoned gaps between
 * them, or each in buffers of its own.
 */
export class TensorSet {
  readonly params: AdafactorParam[] = [];
  readonly paramBuffers: GPUBuffer[] = [];
  readonly gradBuffers: GPUBuffer[] = [];
  private readonly sizes: number[];

  constructor(
    readonly device: GPUDevice,
    readonly shapes: readonly (readonly number[])[],
    init: readonly ArrayLike<number>[],
    readonly layout: 'arena' | 'separate' = 'arena',
    gapFloats = 3,
    bufferMultipleOf = 4,
  ) {
    this.sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    if (layout === 'arena') {
      let offset = gapFloats;
      const offsets = this.sizes.map((n) => {
        const at = offset;
        offset += n + gapFloats;
        return at;
      });
      const param = createBuffer(device, offset * 4, 'param arena', bufferMultipleOf);
      const grad = createBuffer(device, (offset + 1) * 4, 'grad arena', bufferMultipleOf);
      poison(device, param);
      poison(device, grad);
      this.paramBuffers.push(param);
      this.gradBuffers.push(grad);
      shapes.forEach((shape, i) => {
        // Gradients sit one float further on than parameters, so that the two offsets differ.
        this.params.push({
          param,
          grad,
          shape,
          paramOffset: offsets[i] * 4,
          gradOffset: (offsets[i] + 1) * 4,
          name: `p${i}`,
        });
      });
    } else {
      shapes.forEach((shape, i) => {
        const param = createBuffer(device, this.sizes[i] * 4, `param ${i}`, bufferMultipleOf);
        const grad = createBuffer(device, this.sizes[i] * 4, `grad ${i}`, bufferMultipleOf);
        poison(device, param);
        poison(device, grad);
        this.paramBuffers.push(param);
        this.gradBuffers.push(grad);
        this.params.push({ param, grad, shape, name: `p${i}` });
      });
    }
    init.forEach((values, i) => this.write('param', i, values));
  }

  write(which: 'param' | 'grad', index: number, values: ArrayLike<number>): void {
    const p = this.params[index];
    if (values.length !== this.sizes[index])
      throw new Error(`tensor ${index}: ${values.length} values for ${this.sizes[index]} elements`);
    if (values.length === 0) return;
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const buffer = which === 'param' ? p.param : p.grad;
    const offset = which === 'param' ? (p.paramOffset ?? 0) : (p.gradOffset ?? 0);
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  writeGrads(grads: readonly ArrayLike<number>[]): void {
    grads.forEach((g, i) => this.write('grad', i, g));
  }

  async readParams(): Promise<Float32Array[]> {
    return Promise.all(this.params.map((p, i) => readFloats(this.device, p.param, p.paramOffset ?? 0, this.sizes[i])));
  }

  /** Checks that every float outside the tensors is still the poison (no stray writes). */
  async expectGapsUntouched(): Promise<void> {
    for (const buffer of this.paramBuffers) {
      const all = await readFloats(this.device, buffer);
      const inside = new Uint8Array(all.length);
      this.params.forEach((p, i) => {
        if (p.param === buffer) inside.fill(1, (p.paramOffset ?? 0) / 4, (p.paramOffset ?? 0) / 4 + this.sizes[i]);
      });
      for (let k = 0; k < all.length; k++) {
        if (!inside[k] && !Number.isNaN(all[k]))
          throw new Error(`parameter buffer element ${k}, outside every tensor, was overwritten with ${all[k]}`);
      }
    }
  }

  newOptimizer(options?: AdafactorOptions): Adafactor {
    const optimizer = new Adafactor(this.device, this.params, options);
    // Scratch is NaN before the first step, but for its status words (the skipped-step count, which
    // lives across steps): a partial sum that a pass forgets to write poisons the result.
    poison(this.device, optimizer.engine.scratch, NaN, 4 * SHADER.constants.STATUS_WORDS);
    return optimizer;
  }

  destroy(): void {
    for (const b of [...this.paramBuffers, ...this.gradBuffers]) b.destroy();
  }
}

/** Runs `body` inside validation, out-of-memory and internal error scopes; any GPU error fails. */
export async function withGpuErrors<T>(device: GPUDevice, body: () => Promise<T>): Promise<T> {
  const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const f of filters) device.pushErrorScope(f);
  let result: T;
  try {
    result = await body();
  } finally {
    const errors = (await Promise.all(filters.map(() => device.popErrorScope()))).filter((e) => e !== null);
    if (errors.length > 0) throw new Error(`GPU error: ${errors.map((e) => e!.message).join('; ')}`);
  }
  return result;
}

/** Deterministic pseudo-random numbers (mulberry32) so that a failing case can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal f32 values. */
export function normals(count: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

/**
 * The float64 reference of an optimizer with parameter groups: one ReferenceAdafactor per group
 * over its members (indices into the tensors), each with its group's options, stepped and
 * compared together.
 */
export class GroupReferences {
  private readonly references: ReferenceAdafactor[];

  constructor(
    private readonly members: readonly (readonly number[])[],
    init: readonly ArrayLike<number>[],
    shapes: readonly (readonly number[])[],
    optionsOf: (group: number) => AdafactorOptions,
  ) {
    this.references = members.map(
      (m, g) =>
        new ReferenceAdafactor(
          m.map((i) => ({ data: init[i], shape: shapes[i] })),
          optionsOf(g),
        ),
    );
  }

  /** One step, with one gradient per tensor (in the tensors' order). */
  step(grads: readonly ArrayLike<number>[]): void {
    this.members.forEach((m, g) => this.references[g].step(m.map((i) => grads[i])));
  }

  /** Every tensor's params (in the tensors' order) within `tolerance` of its group's reference. */
  expectClose(params: readonly ArrayLike<number>[], tolerance = TOLERANCE): void {
    this.members.forEach((m, g) =>
      m.forEach((i, k) => expectClose(params[i], this.references[g].params[k], `group ${g}, tensor ${i}`, tolerance)),
    );
  }
}
