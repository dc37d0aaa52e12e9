// PyTorch's epsilon: eps1 floors mean(R_t) and eps1^2 the second-moment estimate, instead of
// being added to G^2. It matters once gradients are small; here they are, on every path a step
// can take (the passes, whole_tensor, windows), against the float64 reference.
import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { TensorSet, expectClose, normals, random, relativeError, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

describe("eps1Mode: 'floor'", () => {
  it.each([
    ['the passes and whole_tensor', {}],
    ['the passes only (skipNonFinite)', { skipNonFinite: true }],
    ['windows', { limits: { maxBindingBytes: 80 * 1024 } }], // the first matrix is 82 KiB; a band of it at most 70 KiB
  ] as [string, AdafactorOptions][])(
    'small gradients, zero rows and zero parameters match the reference: %s',
    async (_, extra) => {
      await withGpuErrors(gpu.device, async () => {
        const shapes = [[300, 70], [40, 24], [2, 9, 7], [30], [], [50, 20]];
        const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
        const options: AdafactorOptions = {
          eps1Mode: 'floor',
          eps1: 1.1920929e-7,
          relativeStep: false,
          lr: (t) => Math.min(3e-3, 1 / Math.sqrt(t)),
          ...extra,
        };
        const rand = random(8);
        // The last tensor starts at zero.
        const init = sizes.map((n, i) => (i === shapes.length - 1 ? new Float32Array(n) : normals(n, rand)));
        const tensors = new TensorSet(gpu.device, shapes, init);
        const optimizer = tensors.newOptimizer(options);
        const reference = new ReferenceAdafactor(
          shapes.map((shape, i) => ({ data: init[i], shape })),
          options,
        );
        // The same run with eps1^2 added instead: the floor must make a difference here.
        const added = new ReferenceAdafactor(
          shapes.map((shape, i) => ({ data: init[i], shape })),
          { ...options, eps1Mode: 'add', eps1: 1.1920929e-7 ** 2 },
        );
        for (let step = 1; step <= 6; step++) {
          // Gradients of RMS 1e-6 to 1e-4, with a row of zeros in the first matrix.
          const grads = sizes.map((n) => normals(n, rand, 10 ** -(4 + (step % 3))));
          grads[0].fill(0, 0, 70);
          tensors.writeGrads(grads);
          optimizer.step();
          reference.step(grads);
          added.step(grads);
        }
        expect(relativeError(added.params[0], reference.params[0])).toBeGreaterThan(1e-3);
        (await tensors.readParams()).forEach((p, i) =>
          expectClose(p, reference.params[i], `tensor ${i} ${JSON.stringify(shapes[i])}`),
        );
        optimizer.destroy();
        tensors.destroy();
      });
    },
  );
});
