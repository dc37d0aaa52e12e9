/**
 * The golden traces of Hugging Face transformers' Adafactor (test/data/hf-adafactor.json, a copy
 * of shared/golden): decoding, and the translation of its option names to ours.
 */
import type { AdafactorOptions } from '../../src/index.js';

export interface GoldenParam {
  name: string;
  shape: number[];
  init: Float32Array;
}
export interface GoldenStep {
  grads: Float32Array[];
  /** Parameters after the step, or null where the trace does not list them. */
  expected: Float64Array[] | null;
}
export interface GoldenState {
  step: number;
  [name: string]: number | { shape: number[]; data: Float64Array };
}
export interface GoldenCase {
  name: string;
  hfOptions: Record<string, unknown>;
  options: AdafactorOptions;
  params: GoldenParam[];
  steps: GoldenStep[];
  finalState: GoldenState[];
}

interface RawCase {
  name: string;
  options: Record<string, unknown>;
  params: { name: string; shape: number[]; init: string }[];
  steps: { grads: string[]; expected: string[] | null }[];
  finalState: Record<string, unknown>[];
}

function bytes(base64: string): Uint8Array {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
const f32 = (s: string) => new Float32Array(bytes(s).buffer);
const f64 = (s: string) => new Float64Array(bytes(s).buffer);

/** Hugging Face's argument names to ours. */
export function fromHuggingFace(hf: Record<string, unknown>): AdafactorOptions {
  const o: AdafactorOptions = {};
  for (const [key, value] of Object.entries(hf)) {
    switch (key) {
      case 'lr': if (value !== null) o.lr = value as number; break;
      case 'eps': [o.eps1, o.eps2] = value as [number, number]; break;
      case 'clip_threshold': o.clipThreshold = value as number; break;
      case 'decay_rate': o.decayRate = value as number; break;
      case 'beta1': if (value !== null) o.beta1 = value as number; break;
      case 'weight_decay': o.weightDecay = value as number; break;
      case 'scale_parameter': o.scaleParameter = value as boolean; break;
      case 'relative_step': o.relativeStep = value as boolean; break;
      case 'warmup_init': o.warmupInit = value as boolean; break;
      default: throw new Error(`golden: unknown Hugging Face option ${key}`);
    }
  }
  return o;
}

/**
 * The cases of a trace file; `toOptions` turns a case's options (the traced library's argument
 * names) into ours: Hugging Face's translation by default, or one of `presets`.
 */
export function decodeGolden(
  json: { format: string; cases: RawCase[] },
  toOptions: (options: Record<string, unknown>) => AdafactorOptions = fromHuggingFace,
  stateNames: Record<string, string> = {},
): GoldenCase[] {
  if (json.format !== 'adafactor-golden/1') throw new Error(`golden: unknown format ${json.format}`);
  return json.cases.map((c) => ({
    name: c.name,
    hfOptions: c.options,
    options: toOptions(c.options),
    params: c.params.map((p) => ({ name: p.name, shape: p.shape, init: f32(p.init) })),
    steps: c.steps.map((s) => ({ grads: s.grads.map(f32), expected: s.expected ? s.expected.map(f64) : null })),
    finalState: c.finalState.map((state) => {
      const out: GoldenState = { step: Number(state.step) };
      for (const [key, value] of Object.entries(state)) {
        if (key === 'step') continue;
        const v = value as { shape: number[]; data: string };
        out[stateNames[key] ?? key] = { shape: v.shape, data: f64(v.data) };
      }
      return out;
    }),
  }));
}
