import { describe, expect, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { ReferenceAdafactor } from '../../src/index.js';
import { resolveOptions } from '../../src/core/options.js';
import { caution } from '../../src/core/stages.js';
import { decodeGolden } from '../gpu/golden.js';
import { relativeError } from '../gpu/harness.js';

const cases = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]);

describe('the float64 CPU reference reproduces Hugging Face Adafactor', () => {
  for (const golden of cases) {
    it(golden.name, () => {
      const reference = new ReferenceAdafactor(
        golden.params.map((p) => ({ data: p.init, shape: p.shape })),
        golden.options,
      );
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
        const pairs = [
          ['exp_avg_sq_row', state.row],
          ['exp_avg_sq_col', state.col],
          ['exp_avg_sq', state.full],
          ['exp_avg', state.momentum],
        ] as const;
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
    const reference = new ReferenceAdafactor([{ data: [1, 2, 3], shape: [3] }], {
      relativeStep: false,
      lr: (t) => (t === 2 ? NaN : 0.1),
    });
    reference.step([[1, 1, 1]]);
    const before = Float64Array.from(reference.params[0]);
    expect(() => reference.step([[1, 1, 1]])).toThrow(/lr\(2\) returned NaN/);
    expect(reference.params[0]).toEqual(before);
    expect(reference.stepCount).toBe(1);
  });
});

describe('factoring rules of other libraries in the reference', () => {
  it("weightDecayScale 'none' decays by weightDecay itself, 'alpha' by weightDecay * alpha_t", () => {
    const data = [1, -2, 3, -4];
    const zero = [[0, 0, 0, 0]];
    const none = new ReferenceAdafactor([{ data, shape: [4] }], { weightDecay: 0.1, weightDecayScale: 'none' });
    none.step(zero);
    expect(Array.from(none.params[0])).toEqual(data.map((x) => x - 0.1 * x));
    const alpha = new ReferenceAdafactor([{ data, shape: [4] }], { weightDecay: 0.1 });
    alpha.step(zero);
    const scale = 1e-2 * Math.sqrt((1 + 4 + 9 + 16) / 4); // rho_1 * RMS(X)
    alpha.params[0].forEach((x, i) => expect(x).toBeCloseTo(data[i] - 0.1 * scale * data[i], 15));
  });

  it('minDimSizeToFactor keeps a full second moment for small matrices', () => {
    const r = new ReferenceAdafactor(
      [
        { data: new Float64Array(6), shape: [2, 3] },
        { data: new Float64Array(6), shape: [2, 3] },
      ].map((p) => p),
      {},
    );
    expect(r.states[0].row).toBeDefined();
    const small = new ReferenceAdafactor([{ data: new Float64Array(6), shape: [2, 3] }], { minDimSizeToFactor: 3 });
    expect(small.states[0].row).toBeUndefined();
    expect(small.states[0].full).toHaveLength(6);
  });
});

describe('caution in the reference (timm: mask = M_t G > 0, divided by max(mean(mask), 1e-3))', () => {
  const options = resolveOptions({ beta1: 0.9, caution: true }, 'test');
  it('keeps the agreeing elements, times the inverse of the fraction kept', () => {
    const kept = caution(Float64Array.from([1, -2, 3, -4]), [1, 1, 1, 1], options);
    expect(Array.from(kept)).toEqual([2, 0, 6, 0]);
    // Zero agrees with nothing.
    expect(Array.from(caution(Float64Array.from([0, 1]), [1, -1], options))).toEqual([0, 0]);
  });
  it('divides by at least 1e-3', () => {
    const update = new Float64Array(10_000).fill(-1);
    update[7] = 1;
    const kept = caution(update, new Float64Array(10_000).fill(1), options);
    expect(kept[7]).toBeCloseTo(1000, 9);
    expect(kept.reduce((a, b) => a + Math.abs(b), 0)).toBeCloseTo(1000, 9);
  });
  it('does nothing without the option, and a step with it differs from one without', () => {
    const update = Float64Array.from([1, -2]);
    expect(caution(update, [1, 1], resolveOptions({ beta1: 0.9 }, 'test'))).toBe(update);
    const run = (withCaution: boolean) => {
      const reference = new ReferenceAdafactor([{ data: [1, 2, 3, 4], shape: [4] }], {
        beta1: 0.9,
        caution: withCaution,
      });
      reference.step([[1, 1, 1, 1]]);
      reference.step([[-0.01, 1, -0.01, 1]]); // M_2 stays positive where G turns negative
      return Array.from(reference.params[0]);
    };
    expect(run(true)).not.toEqual(run(false));
  });
});
