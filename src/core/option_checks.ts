/** Checks of single options, shared by resolveOptions (options.ts). */
import type { FactorDims } from './shape.js';

/** Device limits to use instead of the device's own, only ever lower (the `limits` option). */
export interface AdafactorLimits {
  /** Instead of the device's maxComputeWorkgroupsPerDimension. */
  maxWorkgroupsPerDimension?: number;
  /** Instead of the device's maxStorageBufferBindingSize: larger tensors are processed in windows. */
  maxBindingBytes?: number;
}

/** The smallest normal f32: positive values below it are 0 or denormals on the GPU (often flushed to 0). */
export const F32_MIN_NORMAL = 2 ** -126;

/**
 * Why `value` is not usable in the GPU's f32 (a reason, or undefined): it rounds to an infinity,
 * or, where it must stay positive (`positive`), below the smallest normal f32.
 */
export function f32Problem(value: number, positive: boolean): string | undefined {
  const rounded = Math.fround(value);
  if (!Number.isFinite(rounded))
    return `rounds to ${rounded} in f32, the GPU's precision (the largest f32 is about 3.4e38)`;
  if (positive && rounded < F32_MIN_NORMAL)
    return `is 0 or a denormal in f32, the GPU's precision (the smallest normal f32 is about 1.18e-38)`;
  return undefined;
}

export function resolveGradScale(value: unknown, where: string): number | ((t: number) => number) {
  if (value === undefined) return 1;
  if (typeof value === 'function') return value as (t: number) => number;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw new Error(
      `${where}: option gradScale must be a finite number > 0 or a function of the step, got ${String(value)}`,
    );
  const problem = f32Problem(1 / value, true);
  if (problem) throw new Error(`${where}: option gradScale is ${value}, whose inverse ${problem}`);
  return value;
}

export function factorDimsOption(value: unknown, where: string): FactorDims {
  if (typeof value === 'function') return value as FactorDims;
  const rules = ['last2', 'largest2', 'conv'];
  if (!rules.includes(value as string))
    throw new Error(
      `${where}: option factorDims must be one of ${rules.map((r) => `'${r}'`).join(', ')} or a function of the shape, got ${String(value)}`,
    );
  return value as FactorDims;
}

export function resolveLimits(limits: AdafactorLimits | undefined, where: string): AdafactorLimits {
  if (limits === undefined) return {};
  if (typeof limits !== 'object' || limits === null) throw new Error(`${where}: option limits must be an object`);
  for (const [key, value] of Object.entries(limits)) {
    if (key !== 'maxWorkgroupsPerDimension' && key !== 'maxBindingBytes')
      throw new Error(`${where}: unknown limit '${key}'`);
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new Error(`${where}: limit ${key} must be an integer >= 1, got ${String(value)}`);
    }
  }
  return { ...limits };
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
