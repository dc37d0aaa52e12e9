import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, type AdafactorParam, ReferenceAdafactor } from '../../src/index.js';
import { checkAgainstReference } from '../gpu/checks.js';
import { TensorSet, createBuffer, expectClose, normals, random, readFloats, withGpuErrors } from '../gpu/harness.js';
import { nodeDevice, useDevice } from './device.js';
import { BufferUsage } from '../../src/gpu/usage.js';

const gpu = useDevice();

/** A device wrapper that records every GPU object created through it. */
function watchedDevice(device: GPUDevice): { device: GPUDevice; created: string[] } {
  const created: string[] = [];
  const proxy = new Proxy(device, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (String(key).startsWith('create')) created.push(String(key));
        return value.apply(target, args);
      };
    },
  });
  return { device: proxy, created };
}

describe('construction rejects bad input before any GPU work, naming the tensor', () => {
  const bad: [
    string,
    (buffers: { a: GPUBuffer; b: GPUBuffer; noStorage: GPUBuffer }) => AdafactorParam[],
    AdafactorOptions,
    RegExp,
  ][] = [
    [
      'a negative dim',
      ({ a, b }) => [{ param: a, grad: b, shape: [4, -2], name: 'w' }],
      {},
      /tensor 'w': shape \[4, -2\] has an invalid dim -2/,
    ],
    [
      'a fractional dim',
      ({ a, b }) => [{ param: a, grad: b, shape: [2.5] }],
      {},
      /tensor 0: shape \[2.5\] has an invalid dim 2.5/,
    ],
    [
      'a non-finite dim',
      ({ a, b }) => [{ param: a, grad: b, shape: [Infinity] }],
      {},
      /tensor 0: shape \[Infinity\] has an invalid dim/,
    ],
    [
      'a buffer too small at its offset',
      ({ a, b }) => [{ param: a, grad: b, shape: [10], paramOffset: 1000, name: 'bias' }],
      {},
      /tensor 'bias': param needs bytes \[1000, 1040\) but its buffer has 1024 bytes/,
    ],
    [
      'an offset not a multiple of 4',
      ({ a, b }) => [{ param: a, grad: b, shape: [10], gradOffset: 6 }],
      {},
      /tensor 0: grad offset 6 is not a multiple of 4 bytes/,
    ],
    [
      'a buffer without STORAGE',
      ({ noStorage, b }) => [{ param: noStorage, grad: b, shape: [10], name: 'x' }],
      {},
      /tensor 'x': param buffer was not created with GPUBufferUsage.STORAGE/,
    ],
    [
      'overlapping parameters',
      ({ a, b }) => [
        { param: a, grad: b, shape: [10], name: 'first' },
        { param: a, grad: b, shape: [10], paramOffset: 36, gradOffset: 40, name: 'second' },
      ],
      {},
      /tensor 'second': its parameter range \[36, 76\) overlaps the parameter range \[0, 40\) of tensor 'first'/,
    ],
    [
      'overlapping gradients',
      ({ a, b }) => [
        { param: a, grad: b, shape: [10] },
        { param: a, grad: b, shape: [10], paramOffset: 40, gradOffset: 20 },
      ],
      {},
      /tensor 1: its gradient range \[20, 60\) overlaps the gradient range \[0, 40\) of tensor 0/,
    ],
    [
      'a parameter overlapping its own gradient',
      ({ a }) => [{ param: a, grad: a, shape: [10], gradOffset: 8, name: 'g' }],
      {},
      /tensor 'g': its parameter and gradient ranges overlap in one buffer/,
    ],
    [
      'eps1 <= 0',
      ({ a, b }) => [{ param: a, grad: b, shape: [10] }],
      { eps1: 0 },
      /option eps1 must be a finite number > 0/,
    ],
    [
      'decayRate >= 0',
      ({ a, b }) => [{ param: a, grad: b, shape: [10] }],
      { decayRate: 0.5 },
      /option decayRate must be a finite number < 0/,
    ],
    [
      'beta1 outside [0, 1)',
      ({ a, b }) => [{ param: a, grad: b, shape: [10] }],
      { beta1: 1 },
      /option beta1 must be a finite number in \[0, 1\)/,
    ],
    [
      'lr with relativeStep',
      ({ a, b }) => [{ param: a, grad: b, shape: [10] }],
      { lr: 0.1, relativeStep: true },
      /lr is given while relativeStep is true/,
    ],
    [
      'a missing lr without relativeStep',
      ({ a, b }) => [{ param: a, grad: b, shape: [10] }],
      { relativeStep: false },
      /no lr is given/,
    ],
  ];
  it.each(bad)('%s', (_, params, options, message) => {
    const { device, created } = watchedDevice(gpu.device);
    const a = createBuffer(gpu.device, 1024);
    const b = createBuffer(gpu.device, 1024);
    const noStorage = gpu.device.createBuffer({ size: 1024, usage: BufferUsage.COPY_DST });
    expect(() => new Adafactor(device, params({ a, b, noStorage }), options)).toThrow(message);
    expect(created).toEqual([]);
    for (const buffer of [a, b, noStorage]) buffer.destroy();
  });

  it('the optimizer built after a rejected one steps correctly', async () => {
    await withGpuErrors(gpu.device, () =>
      checkAgainstReference(gpu.device, { seed: 3, shapes: [[30, 20], [20]], options: {}, steps: 3, layout: 'arena' }),
    );
  });
});

describe('errors while stepping', () => {
  it('a learning rate that turns bad throws before anything is recorded, and stepping goes on afterwards', async () => {
    const rand = random(5);
    const shapes = [[20, 12], [12]];
    const init = shapes.map((s) =>
      normals(
        s.reduce((x, y) => x * y, 1),
        rand,
      ),
    );
    const grads = shapes.map((s) =>
      normals(
        s.reduce((x, y) => x * y, 1),
        rand,
      ),
    );
    let failure: number | undefined;
    const options: AdafactorOptions = {
      relativeStep: false,
      lr: (t) => (t === 2 && failure !== undefined ? failure : 0.01),
    };
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = tensors.newOptimizer(options);
    const reference = new ReferenceAdafactor(
      shapes.map((shape, i) => ({ data: init[i], shape })),
      options,
    );
    tensors.writeGrads(grads);
    optimizer.step();
    reference.step(grads);
    const before = await tensors.readParams();
    for (const value of [NaN, Infinity, -0.5]) {
      failure = value;
      const encoder = gpu.device.createCommandEncoder();
      expect(() => optimizer.step(encoder)).toThrow(
        /lr\(2\) returned .*; the learning rate must be a finite number >= 0/,
      );
      gpu.device.queue.submit([encoder.finish()]);
      expect(optimizer.stepCount).toBe(1);
      expect(await tensors.readParams()).toEqual(before);
    }
    failure = undefined;
    optimizer.step();
    reference.step(grads);
    (await tensors.readParams()).forEach((p, i) => expectClose(p, reference.params[i], `tensor ${i} after recovering`));
    optimizer.destroy();
    tensors.destroy();
  });

  it('step() after destroy() throws', () => {
    const tensors = new TensorSet(gpu.device, [[8]], [new Float32Array(8)]);
    const optimizer = new Adafactor(gpu.device, tensors.params);
    optimizer.destroy();
    expect(() => optimizer.step()).toThrow(/step\(\) after destroy\(\)/);
    tensors.destroy();
  });

  it('step() after the device is lost throws', async () => {
    const device = await nodeDevice();
    const tensors = new TensorSet(device, [[8, 8]], [new Float32Array(64)]);
    const optimizer = new Adafactor(device, tensors.params);
    optimizer.step();
    device.destroy();
    await device.lost;
    expect(() => optimizer.step()).toThrow(/after the GPUDevice was lost/);
  });
});

describe('skipNonFinite', () => {
  const shapes = [[40, 30], [30], [2, 9, 7], []];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));

  async function readState(optimizer: Adafactor): Promise<Float32Array[]> {
    const { factorState, fullState, momentum } = optimizer.engine.state;
    return Promise.all([factorState, fullState, momentum].map((b) => readFloats(gpu.device, b)));
  }

  it.each([
    ['NaN', NaN, 0],
    ['+Inf', Infinity, 1],
    ['-Inf', -Infinity, 2],
  ])('a %s in one element of one tensor skips the whole step, on the GPU', async (_, bad, tensor) => {
    const rand = random(17);
    const init = sizes.map((n) => normals(n, rand));
    // Two groups: the first two tensors share buffers, the others have their own.
    const shared = new TensorSet(gpu.device, shapes.slice(0, 2), init.slice(0, 2));
    const separate = new TensorSet(gpu.device, shapes.slice(2), init.slice(2), 'separate');
    const params = [...shared.params, ...separate.params.map((p, i) => ({ ...p, name: `separate${i}` }))];
    const options: AdafactorOptions = { skipNonFinite: true, beta1: 0.9 };
    const optimizer = new Adafactor(gpu.device, params, options);
    const reference = new ReferenceAdafactor(
      shapes.map((shape, i) => ({ data: init[i], shape })),
      options,
    );
    const write = (grads: Float32Array[]) => {
      shared.writeGrads(grads.slice(0, 2));
      separate.writeGrads(grads.slice(2));
    };
    const read = async () => [...(await shared.readParams()), ...(await separate.readParams())];

    const good = () => sizes.map((n) => normals(n, rand));
    const first = good();
    write(first);
    optimizer.step();
    reference.step(first);
    const paramsBefore = await read();
    const stateBefore = await readState(optimizer);

    const poisoned = good();
    poisoned[tensor][Math.floor(sizes[tensor] / 2)] = bad;
    write(poisoned);
    optimizer.step();
    reference.step(poisoned);
    expect(optimizer.stepCount).toBe(2);
    expect(await optimizer.skippedSteps()).toBe(1);
    expect(await read()).toEqual(paramsBefore);
    expect(await readState(optimizer)).toEqual(stateBefore);

    // The next step is step 3 of the schedule, as in the reference that skipped the same step.
    const third = good();
    write(third);
    optimizer.step();
    reference.step(third);
    expect(await optimizer.skippedSteps()).toBe(1);
    (await read()).forEach((p, i) => expectClose(p, reference.params[i], `tensor ${i} after the skipped step`));
    optimizer.destroy();
    shared.destroy();
    separate.destroy();
  });

  it('by default a NaN propagates as in the reference', async () => {
    const rand = random(23);
    const init = sizes.map((n) => normals(n, rand));
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = tensors.newOptimizer();
    const reference = new ReferenceAdafactor(shapes.map((shape, i) => ({ data: init[i], shape })));
    const grads = sizes.map((n) => normals(n, rand));
    grads[1][3] = NaN;
    tensors.writeGrads(grads);
    optimizer.step();
    reference.step(grads);
    const params = await tensors.readParams();
    params.forEach((p, i) => {
      const nanHere = Array.from(p, Number.isNaN);
      const nanThere = Array.from(reference.params[i], Number.isNaN);
      expect(nanHere, `NaN pattern of tensor ${i}`).toEqual(nanThere);
    });
    expect(reference.params[1].some(Number.isNaN)).toBe(true);
    expect(await optimizer.skippedSteps()).toBe(0);
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('tensors larger than one binding, in windows', () => {
  it('small windows forced by limits.maxBindingBytes match the reference', async () => {
    const options: AdafactorOptions = { beta1: 0.9, weightDecay: 0.01, limits: { maxBindingBytes: 256 * 1024 } };
    const shapes = [[600, 200], [100000], [5, 7, 9], [130, 64]];
    const tensors = new TensorSet(
      gpu.device,
      shapes,
      shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1))),
    );
    const windowed = new Adafactor(gpu.device, tensors.params, options);
    const whole = new Adafactor(gpu.device, tensors.params, { ...options, limits: {} });
    expect(windowed.dispatchesPerStep).toBeGreaterThan(whole.dispatchesPerStep + 6);
    windowed.destroy();
    whole.destroy();
    tensors.destroy();
    for (const layout of ['arena', 'separate'] as const) {
      await withGpuErrors(gpu.device, () =>
        checkAgainstReference(gpu.device, { seed: Date.now() % 2 ** 31, shapes, options, steps: 3, layout }),
      );
    }
  });

  it('a band wider than the binding limit is refused with the tensor named', () => {
    const tensors = new TensorSet(gpu.device, [[64, 300]], [new Float32Array(64 * 300)]);
    expect(() => new Adafactor(gpu.device, tensors.params, { limits: { maxBindingBytes: 4096 } })).toThrow(
      /tensor 'p0': one band of 64 rows needs more than the 4096-byte binding limit/,
    );
    tensors.destroy();
  });

  it('a real tensor of more than 128 MiB on the device', async () => {
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    const length = Math.floor(limit / 4) + 300_000;
    expect(length * 4).toBeGreaterThan(128 * 1024 * 1024);
    await withGpuErrors(gpu.device, () =>
      checkAgainstReference(gpu.device, {
        seed: Date.now() % 2 ** 31,
        shapes: [[length]],
        options: {},
        steps: 2,
        layout: 'separate',
      }),
    );
  });
});

describe('long runs', () => {
  it('2000 steps stay within 1e-3 of RMS(x) of the float64 reference', async () => {
    const rand = random(99);
    const shapes = [[48, 40], [40], [3, 16, 9], []];
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const init = sizes.map((n) => normals(n, rand));
    const options: AdafactorOptions = { beta1: 0.9, weightDecay: 0.01 };
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = tensors.newOptimizer(options);
    const reference = new ReferenceAdafactor(
      shapes.map((shape, i) => ({ data: init[i], shape })),
      options,
    );
    for (let step = 0; step < 2000; step++) {
      const grads = sizes.map((n) => normals(n, rand, 0.1));
      tensors.writeGrads(grads);
      optimizer.step();
      reference.step(grads);
      if (step % 100 === 99) await gpu.device.queue.onSubmittedWorkDone();
    }
    (await tensors.readParams()).forEach((p, i) =>
      expectClose(p, reference.params[i], `tensor ${i} after 2000 steps`, 1e-3),
    );
    optimizer.destroy();
    tensors.destroy();
  });
});
