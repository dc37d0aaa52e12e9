import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { fromF16, roundToF16, toF16 } from '../gpu/f16.js';
import { createBuffer, expectClose, normals, random, readFloats, withGpuErrors } from '../gpu/harness.js';
import { nodeDevice, useDevice } from './device.js';
import { BufferUsage, MapMode } from '../../src/gpu/usage.js';

const gpu = useDevice(['shader-f16']);

/** Writes values to a buffer as f16 (even length, so that writeBuffer gets whole words). */
function writeF16(device: GPUDevice, buffer: GPUBuffer, values: ArrayLike<number>): void {
  const bits = new Uint16Array(values.length + (values.length % 2));
  bits.set(toF16(values));
  device.queue.writeBuffer(buffer, 0, bits);
}

async function readF16(device: GPUDevice, buffer: GPUBuffer, length: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: buffer.size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(MapMode.READ);
  const values = fromF16(new Uint16Array(staging.getMappedRange().slice(0, length * 2)));
  staging.destroy();
  return values;
}

const f16Buffer = (device: GPUDevice, length: number) =>
  device.createBuffer({
    size: Math.max(16, Math.ceil((length * 2) / 4) * 4),
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
  });

describe('f16 parameters and gradients', () => {
  it.each([
    ['f16 parameters and gradients', 'f16', 'f16'],
    ['f16 parameters, f32 gradients', 'f16', 'f32'],
    ['f32 parameters, f16 gradients', 'f32', 'f16'],
  ] as const)('%s match the float64 reference within f16 precision', async (_, dtype, gradDtype) => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(Date.now() % 2 ** 31);
      const shapes = [[40, 24], [24], [3, 5, 7], []];
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
      const init = sizes.map((n) => roundToF16(normals(n, rand)));
      const options: AdafactorOptions = { beta1: 0.9 };
      const params = shapes.map((shape, i) => {
        const param = dtype === 'f16' ? f16Buffer(gpu.device, sizes[i]) : createBuffer(gpu.device, sizes[i] * 4);
        const grad = gradDtype === 'f16' ? f16Buffer(gpu.device, sizes[i]) : createBuffer(gpu.device, sizes[i] * 4);
        if (dtype === 'f16') writeF16(gpu.device, param, init[i]);
        else gpu.device.queue.writeBuffer(param, 0, init[i]);
        return { param, grad, shape, dtype, gradDtype, name: `t${i}` };
      });
      const optimizer = new Adafactor(gpu.device, params, options);
      const reference = new ReferenceAdafactor(
        shapes.map((shape, i) => ({ data: init[i], shape })),
        options,
      );
      for (let step = 0; step < 3; step++) {
        const grads = sizes.map((n) => roundToF16(normals(n, rand)));
        params.forEach((p, i) =>
          gradDtype === 'f16'
            ? writeF16(gpu.device, p.grad, grads[i])
            : gpu.device.queue.writeBuffer(p.grad, 0, grads[i]),
        );
        optimizer.step();
        reference.step(grads);
      }
      for (const [i, p] of params.entries()) {
        const actual =
          dtype === 'f16'
            ? await readF16(gpu.device, p.param, sizes[i])
            : await readFloats(gpu.device, p.param, 0, sizes[i]);
        const what = `${dtype} parameters, ${gradDtype} gradients, tensor ${i}`;
        if (dtype === 'f16') expectWithinF16Roundings(actual, reference.params[i], 3, what);
        else expectClose(actual, reference.params[i], what);
      }
      optimizer.destroy();
    });
  });

  it('stochastic rounding keeps updates smaller than half an ulp on average, and repeats bit for bit', async () => {
    await withGpuErrors(gpu.device, async () => {
      const n = 4096;
      const steps = 64;
      const lr = 1e-4; // half an f16 ulp just below 1 is 2^-12 = 2.4e-4
      // With a constant gradient of 1 the update is exactly lr each step: X_t = 1 - t lr.
      const options = (stochasticRounding: boolean): AdafactorOptions => ({
        relativeStep: false,
        lr,
        scaleParameter: false,
        stochasticRounding,
      });
      const run = async (stochasticRounding: boolean) => {
        const param = f16Buffer(gpu.device, n);
        const grad = f16Buffer(gpu.device, n);
        writeF16(gpu.device, param, new Float32Array(n).fill(1));
        writeF16(gpu.device, grad, new Float32Array(n).fill(1));
        const optimizer = new Adafactor(
          gpu.device,
          [{ param, grad, shape: [n], dtype: 'f16' }],
          options(stochasticRounding),
        );
        for (let t = 0; t < steps; t++) optimizer.step();
        const values = await readF16(gpu.device, param, n);
        optimizer.destroy();
        return values;
      };
      const expected = 1 - steps * lr;
      const rounded = await run(true);
      const mean = rounded.reduce((a, b) => a + b, 0) / n;
      console.log(`mean after ${steps} steps of ${lr}: ${mean} (float64: ${expected}; round-to-nearest keeps 1)`);
      expect(Math.abs(mean - expected)).toBeLessThan(3e-4);
      expect(new Set(rounded).size).toBeGreaterThan(1);
      expect(Array.from(await run(true))).toEqual(Array.from(rounded));
      const nearest = await run(false);
      expect(nearest.every((x) => x === 1)).toBe(true);
    });
  });

  it('refuses f16 without the shader-f16 feature, and a buffer holding two dtypes', async () => {
    const plain = await nodeDevice();
    const param = f16Buffer(plain, 8);
    const grad = f16Buffer(plain, 8);
    expect(() => new Adafactor(plain, [{ param, grad, shape: [8], dtype: 'f16', name: 'w' }])).toThrow(
      /tensor 'w': f16 needs the device feature 'shader-f16'/,
    );
    const arena = createBuffer(gpu.device, 64);
    const grads = createBuffer(gpu.device, 64);
    expect(
      () =>
        new Adafactor(gpu.device, [
          { param: arena, grad: grads, shape: [4], dtype: 'f16', gradDtype: 'f32' },
          { param: arena, grad: grads, shape: [4], paramOffset: 16, gradOffset: 16 },
        ]),
    ).toThrow(/its param buffer holds f32 here and f16 for tensor 0; one buffer holds one dtype/);
    plain.destroy();
  });
});

/**
 * Parameters stored in f16 differ from the float64 reference by their roundings to f16, each at
 * most 2^-11 of the value rounded (relative to the element, not to the tensor's RMS: an element of
 * 4 may move by 2^-9 in three roundings), plus the f32 tolerance.
 */
function expectWithinF16Roundings(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  roundings: number,
  what: string,
): void {
  let squares = 0;
  for (let i = 0; i < expected.length; i++) squares += expected[i] * expected[i];
  const rms = Math.sqrt(squares / Math.max(1, expected.length));
  for (let i = 0; i < expected.length; i++) {
    const bound = roundings * 2 ** -11 * Math.abs(expected[i]) * 1.05 + 1e-5 * rms;
    if (!(Math.abs(actual[i] - expected[i]) <= bound)) {
      throw new Error(
        `${what}: element ${i} is ${actual[i]}, the reference ${expected[i]}: more than ${roundings} f16 roundings apart`,
      );
    }
  }
}
