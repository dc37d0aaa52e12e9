/**
 * The golden traces of Hugging Face transformers' Adafactor (test/data/hf-adafactor.json, a copy
 * of shared/golden): decoding, and the translation of its option names to ours.
 */
import { type AdafactorOptions, presets } from '../../src/index.js';

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
  /** Why the preset refuses the case's options (it cannot reproduce them), if it does. */
  refused?: string;
  /** The traced library's step count before the first step (a run resumed from a state). */
  initialCount: number;
  params: GoldenParam[];
  steps: GoldenStep[];
  finalState: GoldenState[];
}

interface RawCase {
  name: string;
  options: Record<string, unknown>;
  initialCount?: number;
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
      case 'lr':
        if (value !== null) o.lr = value as number;
        break;
      case 'eps':
        [o.eps1, o.eps2] = value as [number, number];
        break;
      case 'clip_threshold':
        o.clipThreshold = value as number;
        break;
      case 'decay_rate':
        o.decayRate = value as number;
        break;
      case 'beta1':
        if (value !== null) o.beta1 = value as number;
        break;
      case 'weight_decay':
        o.weightDecay = value as number;
        break;
      case 'scale_parameter':
        o.scaleParameter = value as boolean;
        break;
      case 'relative_step':
        o.relativeStep = value as boolean;
        break;
      case 'warmup_init':
        o.warmupInit = value as boolean;
        break;
      default:
        throw new Error(`golden: unknown Hugging Face option ${key}`);
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
  const translate = (options: Record<string, unknown>): { options: AdafactorOptions; refused?: string } => {
    try {
      return { options: toOptions(withNumbers(options) as Record<string, unknown>) };
    } catch (error) {
      return { options: {}, refused: (error as Error).message };
    }
  };
  return json.cases.map((c) => ({
    name: c.name,
    hfOptions: c.options,
    ...translate(c.options),
    initialCount: c.initialCount ?? 0,
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

/** Options with the numbers JSON cannot hold, which trace files write as the strings 'Infinity' and '-Infinity'. */
function withNumbers(value: unknown): unknown {
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  if (Array.isArray(value)) return value.map(withNumbers);
  if (value !== null && typeof value === 'object' && !('schedule' in value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNumbers(v)]));
  return value;
}

/** Each traced library's names of the state tensors, to ours (Hugging Face's). */
const STATE_NAMES = {
  torch: { row_var: 'exp_avg_sq_row', col_var: 'exp_avg_sq_col', variance: 'exp_avg_sq' },
  optax: { v: 'exp_avg_sq', mu: 'exp_avg' },
};

/**
 * optax's options as a trace writes them, to what `presets.optax` takes: a schedule is written
 * as the values it gave for each count, and becomes the function of the count that gives them.
 */
function optaxArguments(options: Record<string, unknown>): Record<string, unknown> {
  const rate = options.learning_rate as { values?: number[] } | number | null | undefined;
  if (typeof rate !== 'object' || rate === null) return options;
  const values = rate.values!;
  return {
    ...options,
    learning_rate: (count: number) => {
      if (!(count in values)) throw new Error(`golden: the schedule has no value for count ${count}`);
      return values[count];
    },
  };
}

/** A trace of PyTorch's or optax's Adafactor, its options through this library's preset. */
export function decodeTrace(json: { format: string; cases: RawCase[] }, library: 'torch' | 'optax'): GoldenCase[] {
  const toOptions =
    library === 'torch'
      ? (o: Record<string, unknown>) => presets.torch(o)
      : (o: Record<string, unknown>) => presets.optax(optaxArguments(o));
  const cases = decodeGolden(json, toOptions, STATE_NAMES[library]);
  if (library === 'optax')
    for (const c of cases) c.finalState.forEach((state, i) => renameOptaxFactors(state, c.params[i].shape));
  return cases;
}

/**
 * optax names its factored moments by size: v_row is the mean over the largest dim d0 (the later
 * one on a tie), v_col over the second largest d1. Ours are by position: exp_avg_sq_row is the mean
 * over the later of the two, exp_avg_sq_col over the earlier.
 */
function renameOptaxFactors(state: GoldenState, shape: readonly number[]): void {
  const { v_row: vRow, v_col: vCol } = state;
  if (vRow === undefined || vCol === undefined) return;
  const bySize = shape.map((_, i) => i).sort((a, b) => shape[a] - shape[b] || a - b);
  const [d1, d0] = bySize.slice(-2);
  [state.exp_avg_sq_row, state.exp_avg_sq_col] = d0 > d1 ? [vRow, vCol] : [vCol, vRow];
  delete state.v_row;
  delete state.v_col;
}

/**
 * The traces of timm's Adafactor and AdafactorBigVision and of optax with a 16-bit momentum
 * (test/data/timm-adafactor.json): each case through its library's preset, with the torch
 * scheduler's lr per step where the case lists one.
 */
export function decodeTimmTrace(json: {
  format: string;
  cases: (RawCase & { library: 'timm' | 'timmBigVision' | 'optax'; schedule?: number[] })[];
}): GoldenCase[] {
  return json.cases.flatMap((c) => {
    const schedule = c.schedule && ((t: number) => c.schedule![t - 1]);
    const toOptions = (o: Record<string, unknown>) =>
      c.library === 'optax'
        ? presets.optax(o)
        : c.library === 'timm'
          ? presets.timm(o, schedule)
          : presets.timmBigVision(o, schedule);
    const names = c.library === 'optax' ? STATE_NAMES.optax : c.library === 'timmBigVision' ? BIG_VISION_NAMES : {};
    const [decoded] = decodeGolden({ format: json.format, cases: [c] }, toOptions, names);
    if (c.library !== 'timm')
      decoded.finalState.forEach((state, i) => renameOptaxFactors(state, decoded.params[i].shape));
    return [decoded];
  });
}

/** AdafactorBigVision's factors are optax's: exp_avg_sq_r the mean over the largest dim, exp_avg_sq_c over the second. */
const BIG_VISION_NAMES = { exp_avg_sq_r: 'v_row', exp_avg_sq_c: 'v_col' };

/** The edge-value traces (test/data/edge-traces.json), each library's through its preset. */
export function decodeEdgeTraces(json: {
  format: string;
  libraries: Record<'torch' | 'optax' | 'huggingFace', RawCase[]>;
}): Record<'torch' | 'optax' | 'huggingFace', GoldenCase[]> {
  const file = (cases: RawCase[]) => ({ format: json.format, cases });
  return {
    torch: decodeTrace(file(json.libraries.torch), 'torch'),
    optax: decodeTrace(file(json.libraries.optax), 'optax'),
    huggingFace: decodeGolden(file(json.libraries.huggingFace), (o) => presets.huggingFace(o)),
  };
}
