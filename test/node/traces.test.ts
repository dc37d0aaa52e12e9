// Golden traces of PyTorch's and optax's own Adafactor (test/data/torch-adafactor.json,
// optax-adafactor.json, made by scripts/golden/make_traces.py) and of timm's two (timm-adafactor.json,
// with optax's 16-bit momentum: make_timm_traces.py), replayed through the presets on WebGPU (Dawn)
// within 1e-5 of RMS(x) (1e-4 with a 16-bit momentum), in both buffer layouts and both paths; and
// the edge values of all three libraries (test/data/edge-traces.json, make_edge_traces.py).
import { describe, expect, it } from 'vitest';
import optaxJson from '../data/optax-adafactor.json';
import torchJson from '../data/torch-adafactor.json';
import edgeJson from '../data/edge-traces.json';
import timmJson from '../data/timm-adafactor.json';
import { checkGoldenCase } from '../gpu/checks.js';
import { decodeEdgeTraces, decodeTimmTrace, decodeTrace } from '../gpu/golden.js';
import { withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const traces = {
  torch: decodeTrace(torchJson as Parameters<typeof decodeTrace>[0], 'torch'),
  optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
  // timm's Adafactor and AdafactorBigVision, and optax with a 16-bit momentum, each through its preset.
  timm: decodeTimmTrace(timmJson as Parameters<typeof decodeTimmTrace>[0]),
};

for (const [library, cases] of Object.entries(traces)) {
  describe(`golden traces of ${library}'s Adafactors through their presets, on WebGPU (Dawn)`, () => {
    it('every case is reproduced or refused', () => expect(cases.length).toBeGreaterThanOrEqual(8));
    for (const golden of cases) {
      if (golden.refused) {
        it(`${golden.name}: refused, saying what to do`, () => expect(golden.refused).toMatch(/is not reproduced; /));
        continue;
      }
      for (const [layout, path] of [
        ['arena', 'whole'],
        ['separate', 'whole'],
        ['arena', 'passes'],
      ] as const) {
        it(`${golden.name} (${layout}, ${path})`, async () => {
          await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, layout, path));
        });
      }
    }
  });
}

describe('edge values of torch, optax and Hugging Face through their presets, on WebGPU (Dawn)', () => {
  const edges = decodeEdgeTraces(edgeJson as Parameters<typeof decodeEdgeTraces>[0]);
  for (const [library, cases] of Object.entries(edges)) {
    for (const golden of cases) {
      it(`${library}: ${golden.name} (one shared buffer, and a buffer per tensor)`, async () => {
        expect(golden.refused).toBeUndefined();
        await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, 'arena', 'whole'));
        await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, 'separate', 'passes'));
      });
    }
  }
});
