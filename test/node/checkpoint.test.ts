import { describe, expect, it } from 'vitest';
import {
  Adafactor,
  type AdafactorOptions,
  decodeSafetensors,
  encodeSafetensors,
  optionsFromJson,
} from '../../src/index.js';
import { TensorSet, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const shapes = [[40, 24], [24], [2, 9, 7], []];
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
const options: AdafactorOptions = { beta1: 0.9, weightDecay: 0.01, skipNonFinite: true };

function trace(seed: number, steps: number): { init: Float32Array[]; grads: Float32Array[][] } {
  const rand = random(seed);
  return {
    init: sizes.map((n) => normals(n, rand)),
    grads: Array.from({ length: steps }, () => sizes.map((n) => normals(n, rand))),
  };
}

describe('saveState and loadState', () => {
  it('10 steps, save, load into a fresh optimizer, 10 more: bit-identical to 20 uninterrupted', async () => {
    await withGpuErrors(gpu.device, async () => {
      const { init, grads } = trace(41, 20);
      const straight = new TensorSet(gpu.device, shapes, init);
      const uninterrupted = new Adafactor(gpu.device, straight.params, options);
      for (const g of grads) {
        straight.writeGrads(g);
        uninterrupted.step();
      }
      const resumedTensors = new TensorSet(gpu.device, shapes, init);
      const first = new Adafactor(gpu.device, resumedTensors.params, options);
      for (const g of grads.slice(0, 10)) {
        resumedTensors.writeGrads(g);
        first.step();
      }
      const saved = await first.saveState();
      first.destroy();
      const second = new Adafactor(gpu.device, resumedTensors.params, options);
      second.loadState(saved);
      expect(second.stepCount).toBe(10);
      for (const g of grads.slice(10)) {
        resumedTensors.writeGrads(g);
        second.step();
      }
      const [a, b] = [await straight.readParams(), await resumedTensors.readParams()];
      a.forEach((values, i) => expect(Array.from(b[i]), `tensor ${i}`).toEqual(Array.from(values)));
      expect(await second.saveState()).toEqual(await uninterrupted.saveState());
      for (const x of [uninterrupted, second]) x.destroy();
      straight.destroy();
      resumedTensors.destroy();
    });
  });

  it('writes safetensors with Hugging Face names, the step and the options', async () => {
    const { init, grads } = trace(5, 3);
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = new Adafactor(gpu.device, tensors.params, options);
    for (const g of grads) {
      tensors.writeGrads(g);
      optimizer.step();
    }
    const bytes = await optimizer.saveState();
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const file = decodeSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual([
      'p0.exp_avg_sq_row',
      'p0.exp_avg_sq_col',
      'p0.exp_avg',
      'p1.exp_avg_sq',
      'p1.exp_avg',
      'p2.exp_avg_sq_row',
      'p2.exp_avg_sq_col',
      'p2.exp_avg',
      'p3.exp_avg_sq',
      'p3.exp_avg',
    ]);
    expect(file.tensors.get('p2.exp_avg_sq_row')!.shape).toEqual([2, 9]);
    expect(file.tensors.get('p2.exp_avg_sq_col')!.shape).toEqual([2, 7]);
    expect(file.tensors.get('p3.exp_avg_sq')!.shape).toEqual([]);
    expect(file.metadata).toMatchObject({ format: 'webgpu-adafactor/1', step: '3', skipped_steps: '0' });
    expect(JSON.parse(file.metadata.options)).toEqual({ beta1: 0.9, weightDecay: 0.01, skipNonFinite: true });
    optimizer.destroy();
    tensors.destroy();
  });

  it('a state that does not fit names the first mismatching tensor and changes nothing', async () => {
    const { init, grads } = trace(9, 2);
    const tensors = new TensorSet(gpu.device, shapes, init);
    const optimizer = new Adafactor(gpu.device, tensors.params, options);
    tensors.writeGrads(grads[0]);
    optimizer.step();
    const good = await optimizer.saveState();
    const file = decodeSafetensors(good);
    const entries = [...file.tensors.entries()].map(([name, t]) => ({
      name,
      shape: t.shape,
      data: new Float32Array(t.bytes.slice().buffer),
    }));
    const rewrite = (change: (e: (typeof entries)[number][]) => (typeof entries)[number][], metadata = file.metadata) =>
      encodeSafetensors(change(entries.map((e) => ({ ...e }))), metadata);
    const bad: [string, Uint8Array, RegExp][] = [
      [
        'a missing tensor',
        rewrite((e) => e.filter((x) => x.name !== 'p1.exp_avg_sq')),
        /the state has no tensor 'p1.exp_avg_sq'/,
      ],
      [
        'a wrong shape',
        rewrite((e) => e.map((x) => (x.name === 'p0.exp_avg_sq_col' ? { ...x, shape: [4, 6] } : x))),
        /tensor 'p0.exp_avg_sq_col' has shape \[4, 6\], expected \[24\]/,
      ],
      [
        'an extra tensor',
        rewrite((e) => [...e, { name: 'q.exp_avg', shape: [1], data: new Float32Array(1) }]),
        /tensor 'q.exp_avg' in the state belongs to no tensor/,
      ],
      ['a bad step', rewrite((e) => e, { ...file.metadata, step: '-1' }), /__metadata__.step is "-1", not a count/],
      ['garbage', new Uint8Array([1, 2, 3]), /too short/],
    ];
    // A wrong dtype: the first tensor's dtype patched in the header, same length, data untouched.
    const headerEnd = 8 + Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
    const header = new TextDecoder().decode(good.subarray(8, headerEnd)).replace('"dtype":"F32"', '"dtype":"I32"');
    const wrongDtype = good.slice();
    wrongDtype.set(new TextEncoder().encode(header), 8);
    bad.push(['a wrong dtype', wrongDtype, /tensor '.*' is I32, expected F32/]);
    for (const [what, bytes, message] of bad) {
      expect(() => optimizer.loadState(bytes), what).toThrow(message);
      expect(optimizer.stepCount, what).toBe(1);
    }
    expect(await optimizer.saveState()).toEqual(good);
    optimizer.destroy();
    tensors.destroy();
  });

  it('tensor names must be unique', () => {
    const tensors = new TensorSet(gpu.device, [[4], [4]], [new Float32Array(4), new Float32Array(4)]);
    const params = tensors.params.map((p) => ({ ...p, name: 'w' }));
    expect(() => new Adafactor(gpu.device, params)).toThrow(
      /tensor 'w' has the name of tensor 0; names must be unique/,
    );
    tensors.destroy();
  });
});

describe("a checkpoint's metadata", () => {
  it('parses back to the options given, numbers JSON has no word for included', async () => {
    const tensors = new TensorSet(gpu.device, shapes, trace(5, 0).init);
    const given: AdafactorOptions & { groups?: unknown } = {
      clipThreshold: Infinity,
      beta1: 0.9,
      relativeStep: false,
      lr: 0.01,
      eps1Mode: 'floor',
      eps1: 1e-10,
      eps2: 0,
      decayOffset: 0,
      limits: { maxBindingBytes: 1 << 20 },
      kernelVariant: 'unsynced',
    };
    const optimizer = new Adafactor(gpu.device, tensors.params, given);
    const saved = decodeSafetensors(await optimizer.saveState()).metadata.options;
    expect(saved).toContain('"clipThreshold":"Infinity"');
    expect(optionsFromJson(JSON.parse(saved))).toEqual(given);
    optimizer.destroy();

    // With parameter groups, each group's overrides too; a learning-rate function is written as 'function'.
    const [a, b, c, d] = tensors.params;
    const groups = [
      { params: [a, b], clipThreshold: Infinity },
      { params: [c, d], relativeStep: false, lr: (t: number) => 0.1 / t },
    ];
    const grouped = new Adafactor(gpu.device, groups, { beta1: 0.5 });
    const back = optionsFromJson(JSON.parse(decodeSafetensors(await grouped.saveState()).metadata.options));
    expect(back).toEqual({
      beta1: 0.5,
      groups: [{ clipThreshold: Infinity }, { relativeStep: false, lr: 'function' }],
    });
    grouped.destroy();
    tensors.destroy();
  });
});
