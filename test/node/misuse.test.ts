// Misuse, as a hostile user would try it: every case is either refused with an Error that names
// the argument or tensor and the problem, with nothing changed (state, step count, parameters,
// GPU objects), or gives exactly the result the API promises. Each case failed before issue 13.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Adafactor,
  type AdafactorOptions,
  type AdafactorParam,
  ReferenceAdafactor,
  decodeSafetensors,
} from '../../src/index.js';
import { TensorSet, createBuffer, expectClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';
import { BufferUsage } from '../../src/gpu/usage.js';

const gpu = useDevice();
const shapes = [[40, 24], [24], [2, 9, 7], []];
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));

/** An optimizer over `shapes` after `steps` steps of random gradients, and its tensors. */
async function trained(
  options: AdafactorOptions,
  steps: number,
  seed = 1,
): Promise<{ optimizer: Adafactor; tensors: TensorSet; rand: () => number }> {
  const rand = random(seed);
  const tensors = new TensorSet(
    gpu.device,
    shapes,
    sizes.map((n) => normals(n, rand)),
  );
  const optimizer = new Adafactor(gpu.device, tensors.params, options);
  for (let i = 0; i < steps; i++) {
    tensors.writeGrads(sizes.map((n) => normals(n, rand)));
    optimizer.step();
  }
  return { optimizer, tensors, rand };
}

/** Everything a refused call must leave alone: the saved state (step count included), the step count, the parameters. */
async function snapshot(
  optimizer: Adafactor,
  tensors: TensorSet,
): Promise<{ saved: Uint8Array; stepCount: number; params: Float32Array[] }> {
  return { saved: await optimizer.saveState(), stepCount: optimizer.stepCount, params: await tensors.readParams() };
}

/** A safetensors file with the given header text and data bytes, its header length as given or the true one. */
function rawFile(header: string, data: Uint8Array, headerLength?: number): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** The header text and data bytes of a file. */
function split(bytes: Uint8Array): { header: string; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: new TextDecoder().decode(bytes.subarray(8, 8 + length)), data: bytes.slice(8 + length) };
}

/** The file with its header JSON changed by `edit` (the data area unchanged). */
function editHeader(bytes: Uint8Array, edit: (header: Record<string, any>) => void): Uint8Array {
  const { header, data } = split(bytes);
  const json = JSON.parse(header);
  edit(json);
  return rawFile(JSON.stringify(json), data);
}

describe('checkpoints: loadState refuses every file the safetensors rules or the state rules forbid, and changes nothing', () => {
  it.each([
    [
      'a span longer than the shape needs',
      (f: Uint8Array) => editHeader(f, (h) => (h['p1.exp_avg_sq'].data_offsets[1] += 4)),
      /tensor 'p1.exp_avg_sq' has \d+ bytes of data; shape \[24\] of F32 needs 96/,
    ],
    [
      'a span shorter than the shape needs',
      (f: Uint8Array) => editHeader(f, (h) => (h['p0.exp_avg_sq_row'].data_offsets[1] -= 4)),
      /tensor 'p0.exp_avg_sq_row' has 156 bytes of data; shape \[40\] of F32 needs 160/,
    ],
    [
      'a span not a multiple of 4 bytes',
      (f: Uint8Array) => editHeader(f, (h) => (h['p3.exp_avg_sq'].data_offsets[1] -= 2)),
      /tensor 'p3.exp_avg_sq' has 2 bytes of data/,
    ],
    [
      'a last tensor running past the end',
      (f: Uint8Array) => editHeader(f, (h) => (h['p3.exp_avg'].data_offsets[1] += 4)),
      /tensor 'p3.exp_avg'/,
    ],
    [
      'a header length one byte short',
      (f: Uint8Array) => {
        const { header, data } = split(f);
        return rawFile(header, data, new TextEncoder().encode(header).length - 1);
      },
      /safetensors: /,
    ],
    [
      'a tensor named twice in the header',
      (f: Uint8Array) => {
        const { header, data } = split(f);
        const entry = header.match(/"p1\.exp_avg_sq":\{[^}]*\}/)![0];
        return rawFile(header.trimEnd().replace(/\}$/, `,${entry}}`), data);
      },
      /names 'p1.exp_avg_sq' twice/,
    ],
    [
      'a header entry of null',
      (f: Uint8Array) => editHeader(f, (h) => (h['p2.exp_avg'] = null)),
      /tensor 'p2.exp_avg'/,
    ],
    [
      'no format',
      (f: Uint8Array) => editHeader(f, (h) => delete h.__metadata__.format),
      /__metadata__.format is missing, expected 'webgpu-adafactor\/1'/,
    ],
    [
      'another format',
      (f: Uint8Array) => editHeader(f, (h) => (h.__metadata__.format = 'other/2')),
      /__metadata__.format is "other\/2"/,
    ],
    ...['', ' ', '0x10', '1e300', '9007199254740993', '-1', '1.5', '010', '+3'].map(
      (step) =>
        [
          `a step of ${JSON.stringify(step)}`,
          (f: Uint8Array) => editHeader(f, (h) => (h.__metadata__.step = step)),
          new RegExp(`__metadata__.step is ${JSON.stringify(step).replace(/[.+]/g, '\\$&')}, not a count`),
        ] as const,
    ),
    [
      'a step that is a number, not a string',
      (f: Uint8Array) => editHeader(f, (h) => (h.__metadata__.step = 5)),
      /__metadata__ 'step' is .*not a string/,
    ],
    ...['1.5', '1e300', ''].map(
      (skipped) =>
        [
          `skipped_steps of ${JSON.stringify(skipped)}`,
          (f: Uint8Array) => editHeader(f, (h) => (h.__metadata__.skipped_steps = skipped)),
          /__metadata__.skipped_steps is .*, not a count/,
        ] as const,
    ),
    [
      'more skipped steps than steps',
      (f: Uint8Array) => editHeader(f, (h) => (h.__metadata__.skipped_steps = '4')),
      /__metadata__.skipped_steps \(4\) is more than step \(3\)/,
    ],
  ] as [string, (file: Uint8Array) => Uint8Array, RegExp][])('%s', async (_, corrupt, message) => {
    await withGpuErrors(gpu.device, async () => {
      const { optimizer, tensors } = await trained({ beta1: 0.9, skipNonFinite: true }, 3);
      const before = await snapshot(optimizer, tensors);
      expect(() => optimizer.loadState(corrupt(before.saved))).toThrow(message);
      expect(await snapshot(optimizer, tensors)).toEqual(before);
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it.each([
    ['a NaN in R', 'p0.exp_avg_sq_row', 5, NaN, /tensor 'p0.exp_avg_sq_row' holds NaN at element 5/],
    ['an infinity in C', 'p2.exp_avg_sq_col', 13, Infinity, /tensor 'p2.exp_avg_sq_col' holds Infinity at element 13/],
    [
      'a negative V',
      'p1.exp_avg_sq',
      0,
      -1e-3,
      /tensor 'p1.exp_avg_sq' holds -0.001\d* at element 0, a negative second moment/,
    ],
    [
      'a negative V of a scalar',
      'p3.exp_avg_sq',
      0,
      -2,
      /tensor 'p3.exp_avg_sq' holds -2 at element 0, a negative second moment/,
    ],
    ['a NaN in the first moment', 'p2.exp_avg', 100, NaN, /tensor 'p2.exp_avg' holds NaN at element 100/],
  ] as [string, string, number, number, RegExp][])('corrupt values: %s', async (_, name, element, value, message) => {
    const { optimizer, tensors } = await trained({ beta1: 0.9 }, 2);
    const before = await snapshot(optimizer, tensors);
    const header = JSON.parse(split(before.saved).header);
    const corrupt = before.saved.slice();
    const dataStart = before.saved.length - split(before.saved).data.length;
    new DataView(corrupt.buffer).setFloat32(dataStart + header[name].data_offsets[0] + 4 * element, value, true);
    expect(() => optimizer.loadState(corrupt)).toThrow(message);
    expect(await snapshot(optimizer, tensors)).toEqual(before);
    // A negative first moment is a state a step can produce: it loads.
    new DataView(corrupt.buffer).setFloat32(dataStart + header['p2.exp_avg'].data_offsets[0], -5, true);
    if (name === 'p2.exp_avg') {
      new DataView(corrupt.buffer).setFloat32(dataStart + header[name].data_offsets[0] + 4 * element, 1, true);
      optimizer.loadState(corrupt);
      expect(float32(await optimizer.saveState(), 'p2.exp_avg')[0]).toBe(-5);
    }
    optimizer.destroy();
    tensors.destroy();
  });

  it('fuzz: random mutations of a valid file are refused with nothing changed, or load exactly what the file says', async () => {
    const { optimizer, tensors } = await trained({ beta1: 0.9, skipNonFinite: true }, 3);
    const original = await optimizer.saveState();
    const before = await snapshot(optimizer, tensors);
    const { header } = split(original);
    const headerEnd = 8 + new TextEncoder().encode(header).length;
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(original.length - 1),
        bits: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.integer({ min: 8, max: headerEnd - 1 }),
        bits: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('length' as const), by: fc.integer({ min: -16, max: 16 }).filter((d) => d !== 0) }),
      fc.record({ kind: fc.constant('truncate' as const), to: fc.nat(original.length - 1) }),
      fc.record({
        kind: fc.constant('number' as const),
        which: fc.nat(),
        by: fc.integer({ min: -8, max: 8 }).filter((d) => d !== 0),
      }),
    );
    let refused = 0;
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        let file: Uint8Array = original.slice();
        if (m.kind === 'flip') file[m.at] ^= m.bits;
        else if (m.kind === 'length') new DataView(file.buffer).setBigUint64(0, BigInt(headerEnd - 8 + m.by), true);
        else if (m.kind === 'truncate') file = file.slice(0, m.to);
        else {
          // One number of the header (an offset, a dim, a count) moved by a little.
          const numbers = [...header.matchAll(/\d+/g)];
          const n = numbers[m.which % numbers.length];
          file = rawFile(
            header.slice(0, n.index) + String(Math.max(0, Number(n[0]) + m.by)) + header.slice(n.index! + n[0].length),
            split(original).data,
          );
        }
        let accepted = true;
        try {
          optimizer.loadState(file);
        } catch (error) {
          accepted = false;
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/^Adafactor\.loadState: /);
        }
        if (!accepted) {
          refused++;
          expect(await snapshot(optimizer, tensors)).toEqual(before);
          return;
        }
        loaded++;
        const given = decodeSafetensors(file);
        const now = decodeSafetensors(await optimizer.saveState());
        expect(now.metadata.step).toBe(given.metadata.step);
        expect(optimizer.stepCount).toBe(Number(given.metadata.step));
        for (const [name, t] of given.tensors) expect(now.tensors.get(name)!.bytes, name).toEqual(t.bytes);
        optimizer.loadState(original);
      }),
      { numRuns: 300, seed: 1313 },
    );
    expect(refused).toBeGreaterThan(100);
    expect(loaded).toBeGreaterThan(10);
    optimizer.destroy();
    tensors.destroy();
  });
});

function float32(file: Uint8Array, name: string): Float32Array {
  const t = decodeSafetensors(file).tensors.get(name)!;
  return new Float32Array(t.bytes.slice().buffer);
}

describe('saveState is one snapshot: the state and the step count as of the call', () => {
  it('a step recorded while a save is in flight is not in the file, and the file says so', async () => {
    const { optimizer, tensors, rand } = await trained({ beta1: 0.9 }, 10);
    const paramsAfter10 = await tensors.readParams();
    const pending = optimizer.saveState();
    tensors.writeGrads(sizes.map((n) => normals(n, rand)));
    optimizer.step();
    const saved = await pending;
    expect(decodeSafetensors(saved).metadata.step).toBe('10');
    // Loading it (and the parameters after step 10) and stepping again with the same gradients
    // reproduces step 11 exactly: the file held the state after step 10, not after 11.
    const after11 = { saved: await optimizer.saveState(), params: await tensors.readParams() };
    expect(decodeSafetensors(after11.saved).metadata.step).toBe('11');
    optimizer.loadState(saved);
    paramsAfter10.forEach((values, i) => tensors.write('param', i, values));
    expect(optimizer.stepCount).toBe(10);
    optimizer.step();
    expect({ saved: await optimizer.saveState(), params: await tensors.readParams() }).toEqual(after11);
    optimizer.destroy();
    tensors.destroy();
  });

  it('a step recorded into an encoder not yet submitted is not in the file, and the file says so', async () => {
    const { optimizer, tensors } = await trained({}, 4);
    const before = await optimizer.saveState();
    const encoder = gpu.device.createCommandEncoder();
    optimizer.step(encoder);
    expect(optimizer.stepCount).toBe(5);
    expect(await optimizer.saveState()).toEqual(before);
    gpu.device.queue.submit([encoder.finish()]);
    expect(decodeSafetensors(await optimizer.saveState()).metadata.step).toBe('5');
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('counts stay exact at any size the API can reach', () => {
  async function withCounts(
    step: number,
    skipped: number,
  ): Promise<{ optimizer: Adafactor; tensors: TensorSet; rand: () => number }> {
    const t = await trained({ skipNonFinite: true }, 1);
    const file = editHeader(await t.optimizer.saveState(), (h) => {
      h.__metadata__.step = String(step);
      h.__metadata__.skipped_steps = String(skipped);
    });
    t.optimizer.loadState(file);
    return t;
  }

  async function skipOne(optimizer: Adafactor, tensors: TensorSet): Promise<void> {
    const grads = sizes.map((n) => new Float32Array(n).fill(1));
    grads[1][3] = NaN;
    tensors.writeGrads(grads);
    optimizer.step();
  }

  it.each([2 ** 24 - 1, 2 ** 48 - 1, 2 ** 52 + 7])('the skipped-step count past %d', async (skipped) => {
    const { optimizer, tensors } = await withCounts(2 ** 53 - 10, skipped);
    expect(await optimizer.skippedSteps()).toBe(skipped);
    await skipOne(optimizer, tensors);
    await skipOne(optimizer, tensors);
    expect(await optimizer.skippedSteps()).toBe(skipped + 2);
    expect(decodeSafetensors(await optimizer.saveState()).metadata).toMatchObject({
      step: String(2 ** 53 - 8),
      skipped_steps: String(skipped + 2),
    });
    optimizer.destroy();
    tensors.destroy();
  });

  it('the step count runs to 2^53 - 1 and then refuses to step', async () => {
    const { optimizer, tensors } = await withCounts(2 ** 53 - 2, 0);
    optimizer.step();
    expect(optimizer.stepCount).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeSafetensors(await optimizer.saveState()).metadata.step).toBe(String(Number.MAX_SAFE_INTEGER));
    const before = await snapshot(optimizer, tensors);
    expect(() => optimizer.step()).toThrow(/the step count 9007199254740991 cannot grow past 2\^53 - 1/);
    expect(await snapshot(optimizer, tensors)).toEqual(before);
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('skipNonFinite skips steps whose statistics overflow f32, not only non-finite gradients', () => {
  const big = (n: number, value: number) => new Float32Array(n).fill(value);
  it.each([
    ['gradients of 1e20 in a matrix (their squares overflow)', (g: Float32Array[]) => g[0].set(big(10, 1e20), 100)],
    ['gradients of 1e20 in a vector', (g: Float32Array[]) => (g[1][7] = 1e20)],
    ['gradients of 1e20 in a scalar', (g: Float32Array[]) => (g[3][0] = -1e20)],
    [
      'a column of 1e19 whose sum overflows while every row sum is finite',
      (g: Float32Array[]) => {
        for (let row = 0; row < 40; row++) g[0][row * 24 + 5] = 1e19;
      },
    ],
    ['a batch of matrices whose R_t overflow', (g: Float32Array[]) => g[2].set(big(7, 3e19), 14)],
  ] as [string, (grads: Float32Array[]) => void][])('%s', async (_, poison) => {
    await withGpuErrors(gpu.device, async () => {
      const options: AdafactorOptions = { skipNonFinite: true, beta1: 0.9 };
      const rand = random(31);
      const init = sizes.map((n) => normals(n, rand));
      const tensors = new TensorSet(gpu.device, shapes, init);
      const optimizer = new Adafactor(gpu.device, tensors.params, options);
      const reference = new ReferenceAdafactor(
        shapes.map((shape, i) => ({ data: init[i], shape })),
        options,
      );
      const first = sizes.map((n) => normals(n, rand));
      tensors.writeGrads(first);
      optimizer.step();
      reference.step(first);
      const before = {
        saved: decodeSafetensors(await optimizer.saveState()).tensors,
        params: await tensors.readParams(),
      };

      const bad = sizes.map((n) => normals(n, rand));
      poison(bad);
      expect(bad.every((g) => g.every(Number.isFinite))).toBe(true);
      tensors.writeGrads(bad);
      optimizer.step();
      expect(await optimizer.skippedSteps()).toBe(1);
      expect(await tensors.readParams()).toEqual(before.params);
      const saved = decodeSafetensors(await optimizer.saveState()).tensors;
      for (const [name, t] of before.saved) expect(saved.get(name)!.bytes, name).toEqual(t.bytes);

      // The next good step is step 3 of the schedule, as in the float64 reference, which skips
      // only non-finite gradients (in float64 nothing here overflows): it skips a NaN step instead.
      reference.step(sizes.map((n) => new Float32Array(n).fill(NaN)));
      const third = sizes.map((n) => normals(n, rand));
      tensors.writeGrads(third);
      optimizer.step();
      reference.step(third);
      (await tensors.readParams()).forEach((p, i) =>
        expectClose(p, reference.params[i], `tensor ${i} after the skipped step`),
      );
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it('parameters whose sum of squares overflows', async () => {
    const tensors = new TensorSet(gpu.device, [[30, 20], [50]], [big(600, 1e19), big(50, 2e19)]);
    const optimizer = new Adafactor(gpu.device, tensors.params, { skipNonFinite: true });
    tensors.writeGrads([normals(600, random(3)), normals(50, random(4))]);
    const before = await tensors.readParams();
    optimizer.step();
    expect(await optimizer.skippedSteps()).toBe(1);
    expect(await tensors.readParams()).toEqual(before);
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('refused calls name the problem and leave nothing behind', () => {
  /** A device whose created buffers are recorded, and which fails at `failAt` when given. */
  function watchedDevice(failAt?: string): { device: GPUDevice; buffers: { destroyed: boolean }[]; created: string[] } {
    const buffers: { destroyed: boolean }[] = [];
    const created: string[] = [];
    const device = new Proxy(gpu.device, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (String(key).startsWith('create')) created.push(String(key));
          if (key === failAt) throw new Error(`injected failure in ${failAt}`);
          const made = value.apply(target, args);
          if (key === 'createBuffer') {
            const record = { destroyed: false };
            buffers.push(record);
            const destroy = made.destroy.bind(made);
            made.destroy = () => {
              record.destroyed = true;
              destroy();
            };
          }
          return made;
        };
      },
    });
    return { device, buffers, created };
  }

  it.each(['createComputePipeline', 'createBindGroup', 'createShaderModule'])(
    'a constructor that fails in %s after making its buffers destroys every one',
    (failAt) => {
      const tensors = new TensorSet(gpu.device, [[300, 70], [70]], [new Float32Array(21000), new Float32Array(70)]);
      const { device, buffers } = watchedDevice(failAt);
      expect(() => new Adafactor(device, tensors.params)).toThrow(`injected failure in ${failAt}`);
      expect(buffers.length).toBeGreaterThan(5);
      expect(buffers.filter((b) => !b.destroyed)).toEqual([]);
      tensors.destroy();
    },
  );

  it.each([
    [
      'an f16 tensor ending inside the last word of a 6-byte buffer',
      (a: GPUBuffer) => [{ param: a, grad: createBuffer(gpu.device, 8), shape: [3], dtype: 'f16', name: 'h' }],
      /tensor 'h': param ends inside the last 4-byte word of its 6-byte buffer/,
    ],
    [
      'an object that only looks like a GPUBuffer',
      () => [
        {
          param: { size: 1024, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST },
          grad: createBuffer(gpu.device, 64),
          shape: [4],
          name: 'fake',
        },
      ],
      /tensor 'fake': param is not a GPUBuffer/,
    ],
    ['a null tensor', () => [null], /tensor 0 is not an object \{ param, grad, shape \}/],
    ['a number for a tensor', () => [5], /tensor 0 is not an object \{ param, grad, shape \}/],
    ['no tensor at all', () => [], /params holds no tensor/],
  ] as [string, (sixBytes: GPUBuffer) => unknown[], RegExp][])('%s', (_, params, message) => {
    const sixBytes = gpu.device.createBuffer({ size: 6, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    const { device, created } = watchedDevice();
    expect(() => new Adafactor(device, params(sixBytes) as AdafactorParam[])).toThrow(message);
    expect(created).toEqual([]);
    sixBytes.destroy();
  });

  it('null options are refused by name', () => {
    const tensors = new TensorSet(gpu.device, [[4]], [new Float32Array(4)]);
    expect(() => new Adafactor(gpu.device, tensors.params, null as unknown as AdafactorOptions)).toThrow(
      /Adafactor: options must be an object of option values, got null/,
    );
    tensors.destroy();
  });

  it('rebind refuses an unknown key (a typo) and changes nothing', async () => {
    const { optimizer, tensors } = await trained({}, 1);
    const other = createBuffer(gpu.device, 4096);
    const entries = tensors.params.map(() => ({}));
    entries[1] = { parm: other };
    expect(() => optimizer.rebind(entries as { param?: GPUBuffer }[])).toThrow(
      /Adafactor.rebind: entry 1 has the unknown key 'parm'; it takes param and grad/,
    );
    expect(optimizer.engine.plan.groups[0].paramBuffer).toBe(tensors.paramBuffers[0]);
    other.destroy();
    optimizer.destroy();
    tensors.destroy();
  });

  it('a vector too large for one binding gets the message for vectors', () => {
    const tensors = new TensorSet(gpu.device, [[10000]], [new Float32Array(10000)]);
    expect(() => new Adafactor(gpu.device, tensors.params, { limits: { maxBindingBytes: 4096 } })).toThrow(
      /tensor 'p0': one tile of 4096 elements needs more than the 4096-byte binding limit/,
    );
    tensors.destroy();
  });

  it('a learning rate that is infinite in f32 throws at its step before anything is recorded', async () => {
    const { optimizer, tensors } = await trained({ relativeStep: false, lr: (t) => (t === 3 ? 1e39 : 0.01) }, 2);
    const before = await snapshot(optimizer, tensors);
    expect(() => optimizer.step()).toThrow(/lr\(3\) returned 1e\+39, which rounds to Infinity in f32/);
    expect(await snapshot(optimizer, tensors)).toEqual(before);
    optimizer.destroy();
    tensors.destroy();
  });
});
