import { describe, expect, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { checkGoldenCase } from '../gpu/checks.js';
import { decodeGolden } from '../gpu/golden.js';
import { withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const cases = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]);
const gpu = useDevice();

describe('golden traces of Hugging Face Adafactor, on WebGPU (Dawn)', () => {
  it('has every case of the golden file', () => expect(cases.map((c) => c.name)).toHaveLength(5));
  for (const golden of cases) {
    for (const layout of ['arena', 'separate'] as const) {
      it(`${golden.name} (${layout === 'arena' ? 'one shared buffer' : 'a buffer per tensor'})`, async () => {
        await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, layout));
      });
    }
    it(`${golden.name} (one shared buffer, small tensors through the six passes)`, async () => {
      await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, 'arena', 'passes'));
    });
  }
});
