import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { TensorSet, createBuffer, expectClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const SHAPES = [[40, 70], [33], [3, 9, 20], []];
const OPTIONS: AdafactorOptions = { beta1: 0.9, weightDecay: 0.01 };
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Fresh random tensors: initial values, and a gradient per step. */
function inputs(seed: number, steps: number): { init: Float32Array[]; grads: Float32Array[][] } {
  const rand = random(seed);
  return {
    init: SHAPES.map((s) => normals(numel(s), rand)),
    grads: Array.from({ length: steps }, () => SHAPES.map((s) => normals(numel(s), rand))),
  };
}

describe('rebind: the same optimizer state over other buffers (Dawn)', () => {
  it.each(['separate', 'arena'] as const)(
    '%s buffers: moving parameters and gradients mid-training matches the reference; the old buffers stay as they were',
    async (layout) => {
      await withGpuErrors(gpu.device, async () => {
        const { init, grads } = inputs(Date.now() % 2 ** 31, 4);
        const reference = new ReferenceAdafactor(
          SHAPES.map((shape, i) => ({ shape, data: init[i] })),
          OPTIONS,
        );
        const before = new TensorSet(gpu.device, SHAPES, init, layout);
        const optimizer = before.newOptimizer(OPTIONS);
        for (const g of grads.slice(0, 2)) {
          before.writeGrads(g);
          optimizer.step();
          reference.step(g);
        }
        const afterTwo = await before.readParams();
        // The engine reallocates: the parameters move to new (poisoned, then filled) buffers.
        const after = new TensorSet(gpu.device, SHAPES, afterTwo, layout);
        optimizer.rebind(after.params.map((p) => ({ param: p.param, grad: p.grad })));
        for (const g of grads.slice(2)) {
          after.writeGrads(g);
          optimizer.step();
          reference.step(g);
        }
        (await after.readParams()).forEach((actual, i) =>
          expectClose(actual, reference.params[i], `tensor ${i} after 4 steps`),
        );
        (await before.readParams()).forEach((old, i) => expect(Array.from(old)).toEqual(Array.from(afterTwo[i])));
        await after.expectGapsUntouched();
        optimizer.destroy();
        before.destroy();
        after.destroy();
      });
    },
  );

  it('only new gradient buffers, every step, as TensorFlow.js hands them out', async () => {
    await withGpuErrors(gpu.device, async () => {
      const { init, grads } = inputs(Date.now() % 2 ** 31, 3);
      const reference = new ReferenceAdafactor(
        SHAPES.map((shape, i) => ({ shape, data: init[i] })),
        OPTIONS,
      );
      const tensors = new TensorSet(gpu.device, SHAPES, init, 'separate');
      const optimizer = tensors.newOptimizer(OPTIONS);
      const made: GPUBuffer[] = [];
      for (const g of grads) {
        const fresh = g.map((values) => {
          const buffer = createBuffer(gpu.device, Math.max(4, values.length * 4), 'fresh grad');
          gpu.device.queue.writeBuffer(buffer, 0, values.buffer, values.byteOffset, values.byteLength);
          made.push(buffer);
          return { grad: buffer };
        });
        optimizer.rebind(fresh);
        optimizer.step();
        reference.step(g);
      }
      (await tensors.readParams()).forEach((actual, i) => expectClose(actual, reference.params[i], `tensor ${i}`));
      optimizer.destroy();
      tensors.destroy();
      for (const b of made) b.destroy();
    });
  });

  it('bad buffers are refused with the tensor named, and the optimizer goes on with its old ones', async () => {
    await withGpuErrors(gpu.device, async () => {
      const { init, grads } = inputs(7, 2);
      const reference = new ReferenceAdafactor(
        SHAPES.map((shape, i) => ({ shape, data: init[i] })),
        OPTIONS,
      );
      const tensors = new TensorSet(gpu.device, SHAPES, init, 'arena');
      const optimizer = tensors.newOptimizer(OPTIONS);
      tensors.writeGrads(grads[0]);
      optimizer.step();
      reference.step(grads[0]);
      const small = createBuffer(gpu.device, 64, 'small');
      const other = createBuffer(gpu.device, 1 << 16, 'other');
      const noStorage = gpu.device.createBuffer({ size: 1 << 16, usage: 0x8 });
      expect(() => optimizer.rebind([{}])).toThrow(/needs one entry per tensor \(4\), got 1/);
      expect(() => optimizer.rebind([{}, 2, {}, {}] as never)).toThrow(/entry 1 is 2, not \{ param\?, grad\? \}/);
      expect(() => optimizer.rebind([{ grad: small }, {}, {}, {}])).toThrow(
        /tensor 'p0': grad needs bytes .* but its buffer has 64 bytes/,
      );
      expect(() => optimizer.rebind([{}, { param: noStorage }, {}, {}])).toThrow(
        /tensor 'p1': param buffer was not created with GPUBufferUsage.STORAGE/,
      );
      expect(() => optimizer.rebind([{ param: other }, {}, {}, {}])).toThrow(
        /tensor '(p0|p2)' shared its buffers with tensor '(p2|p0)' and no longer does/,
      );
      expect(() => optimizer.rebind([{ grad: tensors.params[0].param }, {}, {}, {}])).toThrow(
        /tensor 'p0': its parameter and gradient ranges overlap in one buffer/,
      );
      tensors.writeGrads(grads[1]);
      optimizer.step();
      reference.step(grads[1]);
      (await tensors.readParams()).forEach((actual, i) => expectClose(actual, reference.params[i], `tensor ${i}`));
      optimizer.destroy();
      tensors.destroy();
      for (const b of [small, other, noStorage]) b.destroy();
    });
  });
});
