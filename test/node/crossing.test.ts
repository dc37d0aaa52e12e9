/**
 * State that crosses from PyTorch and JAX: files written by python/webgpu_adafactor.py
 * (save_from_torch, from_optax) after 5 steps of torch.optim.Adafactor, transformers.Adafactor,
 * timm's Adafactor and AdafactorBigVision, and optax.adafactor (test/data/crossing/, made by
 * scripts/golden/make_crossing_fixtures.py), loaded with loadState and continued for 5 steps here:
 * the parameters the library itself reached after 10 steps, within 1e-5 of RMS(x) (1e-4 with a
 * 16-bit first moment).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, presets } from '../../src/index.js';
import crossing from '../data/crossing/cases.json';
import { TensorSet, expectClose, toleranceFor, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

const bytesOf = (s: string) => {
  const bytes = Buffer.from(s, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
};
const f32 = (s: string) => new Float32Array(bytesOf(s));
const f64 = (s: string) => new Float64Array(bytesOf(s));

function presetOptions(library: string, kwargs: Record<string, unknown>): AdafactorOptions {
  switch (library) {
    case 'torch':
      return presets.torch(kwargs);
    case 'huggingFace':
      return presets.huggingFace(kwargs);
    case 'timm':
      return presets.timm(kwargs);
    case 'timmBigVision':
      return presets.timmBigVision(kwargs);
    case 'optax':
      return presets.optax(kwargs);
  }
  throw new Error(`unknown library ${library}`);
}

describe('state saved by PyTorch and JAX optimizers (python/webgpu_adafactor.py) continues here', () => {
  for (const c of crossing.cases)
    it(`${c.library}: ${c.name}: 5 steps there, loadState, 5 here equal 10 there`, async () => {
      await withGpuErrors(gpu.device, async () => {
        const options = presetOptions(c.library, c.options);
        const bytes = new Uint8Array(readFileSync(new URL(`../data/crossing/${c.state}`, import.meta.url)));
        for (const layout of ['arena', 'separate'] as const) {
          const tensors = new TensorSet(gpu.device, c.shapes, c.paramsAfter5.map(f32), layout);
          // The files name tensors by index, as saveState does for tensors without a name.
          const params = tensors.params.map(({ name: _name, ...rest }) => rest);
          const optimizer = new Adafactor(gpu.device, params, options);
          optimizer.loadState(bytes);
          expect(optimizer.stepCount).toBe(5);
          for (const grads of c.grads6to10) {
            tensors.writeGrads(grads.map(f32));
            optimizer.step();
          }
          (await tensors.readParams()).forEach((actual, i) =>
            expectClose(
              actual,
              f64(c.paramsAfter10[i]),
              `${layout}: tensor ${i} ${JSON.stringify(c.shapes[i])}`,
              toleranceFor(options),
            ),
          );
          optimizer.destroy();
          tensors.destroy();
        }
      });
    });

  it('a file from another configuration is refused, naming the tensor and the options that differ; nothing changes', async () => {
    const c = crossing.cases.find((x) => x.name === 'bigvision-bf16')!;
    const bytes = new Uint8Array(readFileSync(new URL(`../data/crossing/${c.state}`, import.meta.url)));
    const tensors = new TensorSet(gpu.device, c.shapes, c.paramsAfter5.map(f32));
    const params = tensors.params.map(({ name: _name, ...rest }) => rest);
    const optimizer = new Adafactor(gpu.device, params, presets.torch({ lr: 0.01 }));
    const before = await optimizer.saveState();
    expect(() => optimizer.loadState(bytes)).toThrow(
      /Adafactor.loadState: tensor '\d\.exp_avg[a-z_]*'.*\(the file was saved with other options: factorDims "largest2" in the file, "last2" here; minDimSizeToFactor 4 in the file, 0 here; beta1 0.9 in the file, none here; momentumDtype "bf16" in the file, "f32" here\)/,
    );
    expect(optimizer.stepCount).toBe(0);
    expect(await optimizer.saveState()).toEqual(before);
    optimizer.destroy();
    tensors.destroy();
  });
});
