/** The shape of `npm run paper --json`'s file, checked the same way for both engines. */
import { expect } from 'vitest';
import { CONFIGS } from '../../demo/paper/configs.js';

/** The file's keys and value types at every level, a list's elements merged into one (keys of any of them). */
export function jsonShape(value: unknown): unknown {
  if (Array.isArray(value)) {
    const shapes = value.map(jsonShape);
    return shapes.length > 0 ? [shapes.reduce(merge)] : [];
  }
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, jsonShape(v)]),
    );
  return typeof value;
}

function merge(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === 0 ? b : b.length === 0 ? a : [merge(a[0], b[0])];
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    return Object.fromEntries(keys.map((k) => [k, k in x && k in y ? merge(x[k], y[k]) : (x[k] ?? y[k])]));
  }
  return a === b ? a : `${String(a)} | ${String(b)}`;
}

/** The shape every run's file has, whichever engine made it. */
export const PAPER_JSON_SHAPE = {
  claims: ['string'],
  configs: [
    {
      finalLoss: 'number',
      losses: ['number'],
      name: 'string',
      stateBytes: 'number',
      stats: [{ clipDivisor: 'number', step: 'number', stepSize: 'number', updateRms: 'number' }],
      stepsPerSecond: 'number',
    },
  ],
  engine: 'string',
  parameters: 'number',
  shape: {
    batch: 'number',
    batchSeed: 'number',
    context: 'number',
    heads: 'number',
    layers: 'number',
    mlp: 'number',
    textCharacters: 'number',
    vocabulary: 'number',
    width: 'number',
  },
  steps: 'number',
};

/** A run of every configuration for `steps` steps: finite losses that fall, and Adafactor's small state. */
export function expectPaperRun(
  json: {
    configs: { name: string; losses: number[]; stateBytes: number; stats: unknown[] }[];
    parameters: number;
    claims: string[];
  },
  steps: number,
): void {
  expect(json.parameters).toBeGreaterThanOrEqual(1_000_000);
  expect(json.configs.map((c) => c.name)).toEqual(CONFIGS.map((c) => c.name));
  for (const c of json.configs) {
    expect(c.losses, c.name).toHaveLength(steps);
    expect(c.losses.every(Number.isFinite), `${c.name}: ${c.losses}`).toBe(true);
    expect(c.losses.at(-1)!, `${c.name}: ${c.losses}`).toBeLessThan(c.losses[0]);
  }
  const [adam, adafactor] = json.configs;
  expect(adam.stateBytes).toBe(8 * json.parameters);
  expect(adafactor.stateBytes).toBeLessThan(0.02 * adam.stateBytes);
  // Every Adafactor configuration reported alpha_t and RMS(U) for the watched matrix.
  for (const c of json.configs.slice(1)) expect(c.stats.length, c.name).toBeGreaterThan(0);
  expect(json.claims).toHaveLength(4);
}
