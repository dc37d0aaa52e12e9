import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions } from '../../src/index.js';
import { checkDeterminism, checkStepsAcrossEncoders, checkTwoStepsInOneEncoder } from '../gpu/checks.js';
import { TensorSet, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

/** An encoder whose compute passes count their dispatches. */
function countingEncoder(device: GPUDevice): { encoder: GPUCommandEncoder; dispatches: () => number } {
  let count = 0;
  const real = device.createCommandEncoder();
  const encoder = new Proxy(real, {
    get(target, key) {
      if (key === 'beginComputePass') {
        return (descriptor?: GPUComputePassDescriptor) => {
          const pass = target.beginComputePass(descriptor);
          return new Proxy(pass, {
            get(p, k) {
              const value = Reflect.get(p, k);
              if (k === 'dispatchWorkgroups' || k === 'dispatchWorkgroupsIndirect') {
                return (...args: unknown[]) => {
                  count++;
                  return (value as (...a: unknown[]) => void).apply(p, args);
                };
              }
              return typeof value === 'function' ? value.bind(p) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { encoder, dispatches: () => count };
}

describe('stepping (Dawn)', () => {
  it('two steps in one encoder equal two steps submitted apart', async () => {
    await withGpuErrors(gpu.device, () => checkTwoStepsInOneEncoder(gpu.device));
  });

  it('two runs on the same inputs are bit-identical', async () => {
    await withGpuErrors(gpu.device, () => checkDeterminism(gpu.device));
  });

  it.each([
    ['small tensors only: one whole_tensor dispatch', [], {}, 1],
    ['a large matrix too: the six passes and whole_tensor', [[300, 70]], {}, 7],
    ['with skipNonFinite: the six passes for all, and the skip decision', [[300, 70]], { skipNonFinite: true }, 7],
  ] as [string, number[][], AdafactorOptions, number][])(
    'the dispatch count of a step does not grow with the number of tensors sharing buffers; %s',
    async (_, large, options, expected) => {
      const counts: number[] = [];
      for (const n of [2, 50]) {
        // One tile each (a batch of two matrices would be two tiles).
        const shapes = [...large, ...Array.from({ length: n }, (_, i) => [[12, 20], [33], [7, 5], []][i % 4])];
        const tensors = new TensorSet(
          gpu.device,
          shapes,
          shapes.map((s) =>
            normals(
              s.reduce((a, b) => a * b, 1),
              random(n),
            ),
          ),
        );
        const optimizer = new Adafactor(gpu.device, tensors.params, options);
        const { encoder, dispatches } = countingEncoder(gpu.device);
        optimizer.step(encoder);
        gpu.device.queue.submit([encoder.finish()]);
        counts.push(dispatches());
        expect(optimizer.dispatchesPerStep).toBe(dispatches());
        optimizer.destroy();
        tensors.destroy();
      }
      expect(counts).toEqual([expected, expected]);
    },
  );

  it('tensors in separate buffers form separate groups of dispatches', async () => {
    const tensors = new TensorSet(
      gpu.device,
      [[300, 20], [5000], [33]],
      [normals(6000, random(1)), normals(5000, random(2)), normals(33, random(3))],
      'separate',
    );
    const optimizer = new Adafactor(gpu.device, tensors.params);
    // The large matrix's group runs all six passes; the long vector's needs no finalize_stats,
    // mean_rows or update_norm; the short vector's is one whole_tensor dispatch.
    expect(optimizer.dispatchesPerStep).toBe(6 + 3 + 1);
    optimizer.destroy();
    tensors.destroy();
  });

  it('a step creates no GPU object and maps nothing', async () => {
    const created: string[] = [];
    const watched = new Set([
      'createBuffer',
      'createBindGroup',
      'createBindGroupLayout',
      'createComputePipeline',
      'createComputePipelineAsync',
      'createShaderModule',
      'createPipelineLayout',
      'createQuerySet',
      'createTexture',
    ]);
    const device = new Proxy(gpu.device, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (watched.has(String(key))) created.push(String(key));
          return value.apply(target, args);
        };
      },
    });
    // A 48 KB matrix in 32 KiB bindings takes windows; the small tensors are stepped whole.
    const shapes = [[600, 20], [12, 20], [33], [2, 5, 6], []];
    const tensors = new TensorSet(
      gpu.device,
      shapes,
      shapes.map((s) =>
        normals(
          s.reduce((a, b) => a * b, 1),
          random(5),
        ),
      ),
    );
    const limits = { maxBindingBytes: 32 * 1024 };
    const unwindowed = new Adafactor(gpu.device, tensors.params);
    const windowed = new Adafactor(gpu.device, tensors.params, { limits });
    expect(windowed.dispatchesPerStep).toBeGreaterThan(unwindowed.dispatchesPerStep);
    unwindowed.destroy();
    windowed.destroy();
    // Momentum, the skip decision, windows, and small tensors stepped whole: every path a step can take.
    for (const options of [
      { beta1: 0.9, skipNonFinite: true, limits },
      { beta1: 0.9, limits },
    ]) {
      const optimizer = new Adafactor(device, tensors.params, options);
      expect(created.length).toBeGreaterThan(0);
      created.length = 0;
      for (let i = 0; i < 100; i++) optimizer.step();
      const encoder = gpu.device.createCommandEncoder();
      for (let i = 0; i < 3; i++) optimizer.step(encoder);
      gpu.device.queue.submit([encoder.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
      expect(created).toEqual([]);
      optimizer.destroy();
    }
    tensors.destroy();
  });

  // The per-step scalars once lived in a ring of 64 slots written at record time: 64 + 1 steps
  // across two encoders overwrote the first step's scalars before it ran.
  it.each([[[64, 1]], [[33, 33]], [[40, 40]], [[130]], [[3, 70, 1, 20]]])(
    'any number of steps recorded across encoders before a submit: %j',
    async (stepsPerEncoder) => {
      await withGpuErrors(gpu.device, () => checkStepsAcrossEncoders(gpu.device, stepsPerEncoder));
    },
  );
});

describe('stateBytes', () => {
  const cases: [string, number[][], { beta1?: number; minDimSizeToFactor?: number }, number][] = [
    ['a factored [n, m] matrix: R and C', [[300, 70]], {}, 4 * (300 + 70)],
    ['a batch of matrices: R and C per matrix', [[3, 40, 50]], {}, 4 * 3 * (40 + 50)],
    ['a vector: full second moment', [[1000]], {}, 4 * 1000],
    ['a scalar', [[]], {}, 4],
    ['a [1, n] matrix', [[1, 500]], {}, 4 * 501],
    ['with beta1: plus the first moment', [[300, 70], [70]], { beta1: 0.9 }, 4 * (300 + 70 + 70 + 300 * 70 + 70)],
    [
      'minDimSizeToFactor 128: small matrices keep a full second moment',
      [
        [300, 70],
        [200, 130],
        [2, 130, 128],
      ],
      { minDimSizeToFactor: 128 },
      4 * (300 * 70 + 200 + 130 + 2 * (130 + 128)),
    ],
  ];
  it.each(cases)('%s', (_, shapes, options, bytes) => {
    const tensors = new TensorSet(
      gpu.device,
      shapes,
      shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1))),
    );
    const optimizer = new Adafactor(gpu.device, tensors.params, options);
    expect(optimizer.stateBytes).toBe(bytes);
    optimizer.destroy();
    tensors.destroy();
  });
});
