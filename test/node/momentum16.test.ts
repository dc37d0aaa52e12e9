import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, decodeSafetensors, encodeSafetensors } from '../../src/index.js';
import { roundTo } from '../../src/core/half.js';
import { floatValues } from '../../src/state/safetensors.js';
import { checkAgainstReference } from '../gpu/checks.js';
import { TensorSet, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

describe('a 16-bit first moment (momentumDtype)', () => {
  for (const momentumDtype of ['bf16', 'f16'] as const)
    for (const momentumArithmetic of ['ema', 'lerp'] as const)
      it(`${momentumDtype}, ${momentumArithmetic}: matches the float64 reference, which rounds M the same way`, async () => {
        for (const layout of ['arena', 'separate'] as const)
          await withGpuErrors(gpu.device, () =>
            checkAgainstReference(gpu.device, {
              seed: Date.now() % 2 ** 31,
              shapes: [[37, 29], [7, 3, 5], [33], [], [64, 90]],
              options: { beta1: 0.9, momentumDtype, momentumArithmetic },
              steps: 6,
              layout,
            }),
          );
      });
});

describe('a 16-bit first moment in checkpoints and memory', () => {
  const shapes = [[40, 24], [24], [2, 9, 8], [6]];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const momentumElements = sizes.reduce((a, b) => a + b, 0);
  const options = (momentumDtype: 'f32' | 'bf16' | 'f16'): AdafactorOptions => ({
    beta1: 0.9,
    momentumDtype,
    weightDecay: 0.01,
  });

  function trace(seed: number, steps: number) {
    const rand = random(seed);
    return {
      init: sizes.map((n) => normals(n, rand)),
      grads: Array.from({ length: steps }, () => sizes.map((n) => normals(n, rand))),
    };
  }

  async function run(momentumDtype: 'f32' | 'bf16' | 'f16', steps: number, seed = 3) {
    const { init, grads } = trace(seed, steps);
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = tensors.newOptimizer(options(momentumDtype));
    for (const g of grads) {
      tensors.writeGrads(g);
      optimizer.step();
    }
    return { tensors, optimizer, grads };
  }

  it('stateBytes counts 2 bytes per element of M', async () => {
    const f32 = await run('f32', 0);
    const bf16 = await run('bf16', 0);
    expect(f32.optimizer.stateBytes - bf16.optimizer.stateBytes).toBe(2 * momentumElements);
    for (const r of [f32, bf16]) {
      r.optimizer.destroy();
      r.tensors.destroy();
    }
  });

  for (const dtype of ['bf16', 'f16'] as const)
    it(`${dtype}: saveState writes M as ${dtype.toUpperCase()} under the same names and shapes; save, load, go on is bit-identical`, async () => {
      await withGpuErrors(gpu.device, async () => {
        const straight = await run(dtype, 6);
        const { init, grads } = trace(3, 6);
        const resumed = new TensorSet(gpu.device, shapes, init);
        const first = resumed.newOptimizer(options(dtype));
        for (const g of grads.slice(0, 3)) {
          resumed.writeGrads(g);
          first.step();
        }
        const saved = await first.saveState();
        first.destroy();
        const file = decodeSafetensors(saved);
        for (const [name, tensor] of file.tensors)
          expect(tensor.dtype, name).toBe(name.endsWith('.exp_avg') ? dtype.toUpperCase() : 'F32');
        expect(file.tensors.get('p2.exp_avg')!.shape).toEqual([2, 9, 8]);
        expect(file.tensors.get('p2.exp_avg')!.bytes.length).toBe(2 * 144);
        const second = resumed.newOptimizer(options(dtype));
        second.loadState(saved);
        for (const g of grads.slice(3)) {
          resumed.writeGrads(g);
          second.step();
        }
        const [a, b] = [await straight.tensors.readParams(), await resumed.readParams()];
        a.forEach((values, i) => expect(Array.from(b[i]), `tensor ${i}`).toEqual(Array.from(values)));
        expect(await second.saveState()).toEqual(await straight.optimizer.saveState());
        second.destroy();
        straight.optimizer.destroy();
        straight.tensors.destroy();
        resumed.destroy();
      });
    });

  it('an F32 M loads into a 16-bit optimizer rounded to nearest; one past the f16 range is refused, changing nothing', async () => {
    await withGpuErrors(gpu.device, async () => {
      const source = await run('f32', 2);
      const saved = await source.optimizer.saveState();
      const f32Values = floatValues(decodeSafetensors(saved).tensors.get('p0.exp_avg')!);
      for (const dtype of ['bf16', 'f16'] as const) {
        const target = await run(dtype, 0);
        target.optimizer.loadState(saved);
        const loaded = floatValues(decodeSafetensors(await target.optimizer.saveState()).tensors.get('p0.exp_avg')!);
        expect(Array.from(loaded)).toEqual(Array.from(f32Values, (v) => roundTo(dtype, v)));
        target.optimizer.destroy();
        target.tensors.destroy();
      }
      // 1e5 is past the largest f16 (65504), within bf16's range.
      const file = decodeSafetensors(saved);
      const tensors = [...file.tensors].map(([name, t]) => {
        const data = floatValues(t);
        if (name === 'p1.exp_avg') data[5] = 1e5;
        return { name, shape: t.shape, data };
      });
      const tooLarge = encodeSafetensors(tensors, file.metadata);
      const f16 = await run('f16', 1);
      const before = await f16.optimizer.saveState();
      expect(() => f16.optimizer.loadState(tooLarge)).toThrow(
        /tensor 'p1.exp_avg' holds 100000 at element 5, past the largest f16 \(momentumDtype\)/,
      );
      expect(f16.optimizer.stepCount).toBe(1);
      expect(await f16.optimizer.saveState()).toEqual(before);
      const bf16 = await run('bf16', 0);
      bf16.optimizer.loadState(tooLarge);
      expect(bf16.optimizer.stepCount).toBe(2);
      for (const r of [source, f16, bf16]) {
        r.optimizer.destroy();
        r.tensors.destroy();
      }
    });
  });

  it('stochastic rounding of M: each value is one of its two neighbours, unbiased on average, and repeats bit for bit', async () => {
    await withGpuErrors(gpu.device, async () => {
      // One step with G = 1 (a vector, V = 1) and lr 1: U = 1 and M_1 = (1 - beta1) U = 0.1 in f32, which lies
      // between the bf16 values 0.099609375 and 0.10009765625: 80% of the way up.
      const n = 16384;
      const exact = Math.fround(0.1);
      const [low, high] = [0.099609375, 0.10009765625];
      const firstMoment = async (stochasticRounding: boolean) => {
        const tensors = new TensorSet(gpu.device, [[n]], [new Float32Array(n)]);
        const optimizer = tensors.newOptimizer({
          relativeStep: false,
          lr: 1,
          scaleParameter: false,
          beta1: 0.9,
          momentumDtype: 'bf16',
          stochasticRounding,
        });
        tensors.writeGrads([new Float32Array(n).fill(1)]);
        optimizer.step();
        const m = floatValues(decodeSafetensors(await optimizer.saveState()).tensors.get('p0.exp_avg')!);
        optimizer.destroy();
        tensors.destroy();
        return m;
      };
      const m = await firstMoment(true);
      expect(m.every((v) => v === low || v === high)).toBe(true);
      const mean = m.reduce((a, b) => a + b, 0) / n;
      // One element's error has a standard deviation of 0.4 ulp (2e-4); the mean's, 1.5e-6.
      console.log(
        `stochastic bf16 M: mean ${mean}, f32 value ${exact}, ${m.filter((v) => v === high).length / n} rounded up`,
      );
      expect(Math.abs(mean - exact)).toBeLessThan(1e-5);
      expect(Array.from(await firstMoment(true))).toEqual(Array.from(m));
      const nearest = await firstMoment(false);
      expect(nearest.every((v) => v === high)).toBe(true);
    });
  });
});
