/**
 * Checks of a preset's arguments, as strict as this library is with its own options: each value
 * must have its argument's type (a string is never taken for a boolean or a number) and a value
 * the other library accepts and this one can reproduce; a refusal names the preset's own argument
 * and says what to do.
 */
import { F32_MIN_NORMAL } from './options.js';

/** A value as an error message shows it. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `the string '${value}'`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}

/** The argument checker of one library: its errors start with the library's name. */
export class PresetArgs {
  constructor(readonly library: string) {}

  refuse(name: string, problem: string): never {
    throw new Error(`${this.library}: ${name} ${problem}`);
  }

  /** The given arguments over the library's defaults; refuses names the library does not have. */
  withDefaults<T extends object>(defaults: Required<T>, args: T | undefined): Required<T> {
    if (args === undefined) return { ...defaults };
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new Error(`${this.library}: arguments must be an object of its keyword arguments, got ${describe(args)}`);
    for (const key of Object.keys(args)) {
      if (!(key in defaults))
        throw new Error(`${this.library}: unknown argument '${key}' (it takes ${Object.keys(defaults).join(', ')})`);
    }
    const given = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
    return { ...defaults, ...given } as Required<T>;
  }

  /** A number (not NaN), in the domain `ok` says, described by `domain`. */
  number(name: string, value: unknown, ok: (v: number) => boolean = () => true, domain = ''): number {
    if (typeof value !== 'number' || Number.isNaN(value))
      this.refuse(name, `must be a number${domain ? ` ${domain}` : ''}, got ${describe(value)}`);
    if (!ok(value)) this.refuse(name, `must be ${domain}, got ${value}`);
    return value;
  }

  /** A number or null (Python's None). */
  numberOrNull(name: string, value: unknown, ok?: (v: number) => boolean, domain?: string): number | null {
    return value === null ? null : this.number(name, value, ok, domain ? `${domain} (or null)` : '(or null)');
  }

  boolean(name: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.refuse(name, `must be true or false, got ${describe(value)}`);
    return value;
  }

  /** A pair of values, each checked by `item`. */
  pair<A, B>(name: string, value: unknown, first: (v: unknown) => A, second: (v: unknown) => B): [A, B] {
    if (!Array.isArray(value) || value.length !== 2)
      this.refuse(name, `must be a pair [eps1, eps2], got ${describe(value)}`);
    return [first(value[0]), second(value[1])];
  }

  /**
   * A value the GPU keeps in f32: finite there, and where `positive`, a normal f32 (0 allowed
   * where `zero`): `name` is what the user gave, as the message names it.
   */
  f32(name: string, value: number, { positive = false, zero = false } = {}): number {
    const rounded = Math.fround(value);
    if (!Number.isFinite(rounded))
      this.refuse(
        name,
        `is ${value}, which rounds to ${rounded} in f32, the GPU's precision (the largest f32 is about 3.4e38)`,
      );
    if (positive && !(zero && value === 0) && rounded < F32_MIN_NORMAL)
      this.refuse(
        name,
        `is ${value}, which is 0 or a denormal in f32, the GPU's precision (the smallest normal f32 is about 1.18e-38)`,
      );
    return value;
  }
}

/**
 * The lr a torch scheduler sets on the group before step t = 1, 2, ...: checked where given (a
 * function), and each value checked when the step asks for it.
 */
export type TorchSchedule = (t: number) => number;

export function checkedSchedule(p: PresetArgs, schedule: unknown): TorchSchedule | undefined {
  if (schedule === undefined) return undefined;
  if (typeof schedule !== 'function')
    p.refuse(
      'schedule',
      `must be a function of the step t = 1, 2, ... (the lr a torch scheduler sets), got ${describe(schedule)}`,
    );
  return (t: number) => {
    const value = (schedule as TorchSchedule)(t);
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(Math.fround(value)))
      p.refuse(`schedule(${t})`, `returned ${describe(value)}; a learning rate must be a finite number >= 0`);
    return value;
  };
}
