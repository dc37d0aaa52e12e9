import { describe, expect, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { ReferenceAdafactor } from '../../src/index.js';
import { decodeGolden } from '../gpu/golden.js';
import { relativeError } from '../gpu/harness.js';

const cases = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]);

describe('the float64 CPU reference reproduces Hugging Face Adafactor', () => {
  for (const golden of cases) {
    it(golden.name, () => {
      const reference = new ReferenceAdafactor(golden.params.map((p) => ({ data: p.init, shape: p.shape })), golden.options);
      let checked = 0;
      for (const step of golden.steps) {
        reference.step(step.grads);
        step.expected?.forEach((expected, i) => {
          expect(relativeError(reference.params[i], expected)).toBeLessThan(1e-12);
          checked++;
        });
      }
      expect(checked).toBeGreaterThan(0);
      reference.states.forEach((state, i) => {
        const want = golden.finalState[i];
        const pairs = [['exp_avg_sq_row', state.row], ['exp_avg_sq_col', state.col], ['exp_avg_sq', state.full], ['exp_avg', state.momentum]] as const;
        for (const [key, actual] of pairs) {
          const expected = want[key];
          expect(actual === undefined, `${key} present in one state only`).toBe(expected === undefined);
          if (actual && typeof expected === 'object') expect(relativeError(actual, expected.data)).toBeLessThan(1e-12);
        }
        expect(want.step).toBe(golden.steps.length);
      });
    });
  }

  it('a bad learning rate throws before anything changes', () => {
    const reference = new ReferenceAdafactor([{ data: [1, 2, 3], shape: [3] }], { relativeStep: false, lr: (t) => (t === 2 ? NaN : 0.1) });
    reference.step([[1, 1, 1]]);
    const before = Float64Array.from(reference.params[0]);
    expect(() => reference.step([[1, 1, 1]])).toThrow(/lr\(2\) returned NaN/);
    expect(reference.params[0]).toEqual(before);
    expect(reference.stepCount).toBe(1);
  });
});
