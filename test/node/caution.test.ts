import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions } from '../../src/index.js';
import { checkAgainstReference } from '../gpu/checks.js';
import { GroupReferences, TensorSet, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

// Several tiles per tensor (so that the counts of many tiles meet), a matrix factored on dims that
// are not the last two, a vector longer than a vector tile, small tensors, and a scalar.
const shapes = [[300, 70], [3, 40, 9], [9000], [33], [], [5, 7]];

describe('caution (M_t kept where it agrees in sign with G, over the fraction kept)', () => {
  for (const [what, options] of [
    ['after the learning rate', { beta1: 0.9, caution: true }],
    [
      'before the learning rate, bf16 lerp',
      { beta1: 0.9, caution: true, momentumBeforeLr: true, momentumDtype: 'bf16', momentumArithmetic: 'lerp' },
    ],
    [
      'largest2 factoring, weight decay, with skipNonFinite',
      { beta1: 0.5, caution: true, factorDims: 'largest2', weightDecay: 0.1, skipNonFinite: true },
    ],
  ] as const)
    it(`${what}: matches the float64 reference, in both layouts`, async () => {
      for (const layout of ['arena', 'separate'] as const)
        await withGpuErrors(gpu.device, () =>
          checkAgainstReference(gpu.device, { seed: Date.now() % 2 ** 31, shapes, options, steps: 5, layout }),
        );
    });

  it('a group with caution and one without, interleaved in one pair of buffers, each match their reference', async () => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(Date.now() % 2 ** 31);
      const groupShapes = [[120, 80], [80], [40, 30], [30]];
      const sizes = groupShapes.map((s) => s.reduce((a, b) => a * b, 1));
      const init = sizes.map((n) => normals(n, rand));
      const tensors = new TensorSet(gpu.device, groupShapes, init);
      const groupOptions: AdafactorOptions[] = [{ beta1: 0.9, caution: true }, { beta1: 0.9 }];
      const members = [
        [0, 3],
        [1, 2],
      ];
      const optimizer = new Adafactor(
        gpu.device,
        members.map((m, g) => ({ params: m.map((i) => tensors.params[i]), ...groupOptions[g] })),
      );
      const references = new GroupReferences(members, init, groupShapes, (g) => groupOptions[g]);
      for (let step = 0; step < 4; step++) {
        const grads = sizes.map((n) => normals(n, rand));
        tensors.writeGrads(grads);
        optimizer.step();
        references.step(grads);
      }
      references.expectClose(await tensors.readParams());
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it('needs beta1, and the refusal leaves nothing behind', () => {
    const tensors = new TensorSet(gpu.device, [[4, 4]], [new Float32Array(16)]);
    expect(() => new Adafactor(gpu.device, tensors.params, { caution: true })).toThrow(
      /option caution needs beta1: it masks the first moment's step/,
    );
    tensors.destroy();
  });
});
