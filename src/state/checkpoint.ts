/**
 * The optimizer state as a safetensors file, and back: the file's tensors and metadata, and every
 * check a file passes before it may replace a state. Pure CPU code: `Adafactor.saveState` and
 * `loadState` move the bytes.
 */
import { STATE_BUFFERS, type StateBuffer, type StateValues } from '../gpu/state_buffers.js';
import { type StateEntry, entryValues, keptValues } from './entries.js';
import { type StateDtype, roundTo } from '../core/half.js';
import { type FloatDtype, type NamedTensor, decodeSafetensors, encodeSafetensors, floatValues } from './safetensors.js';

const SAFETENSORS_DTYPES: Record<StateDtype, FloatDtype> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
import { STATE_SLOTS } from './tensors.js';
import { DEFAULT_OPTIONS, type ResolvedOptions } from '../core/options.js';
import { optionsFromJson } from '../core/options_json.js';
import { checkStateValues } from './values.js';

/** Version written into saved state, checked on load. */
export const STATE_FORMAT = 'webgpu-adafactor/1';

/**
 * The file `saveState` writes: every state tensor under its name (F32; M as BF16 or F16 when
 * kept in 16 bits), the counts and the options in `__metadata__`.
 */
export function encodeCheckpoint(
  entries: readonly StateEntry[],
  checkpoint: StateValues,
  options: string,
  momentumDtype: StateDtype = 'f32',
): Uint8Array {
  const tensors: NamedTensor[] = entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: entryValues(e, checkpoint.values),
    dtype: e.buffer === 'momentum' ? SAFETENSORS_DTYPES[momentumDtype] : 'F32',
  }));
  return encodeSafetensors(tensors, {
    format: STATE_FORMAT,
    step: String(checkpoint.step),
    skipped_steps: String(checkpoint.skippedSteps),
    options,
  });
}

/**
 * Decodes a file for an optimizer whose state tensors are `entries` and whose state buffers hold
 * `lengths` floats. Checks everything first (the safetensors rules, the format, the counts, every
 * tensor's name, dtype, shape and values) and throws an Error naming the first problem.
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  entries: readonly StateEntry[],
  lengths: Record<StateBuffer, number>,
  where: string,
  momentumDtype: StateDtype = 'f32',
): StateValues {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
  const { metadata } = file;
  if (metadata.format !== STATE_FORMAT) {
    throw new Error(
      `${where}: __metadata__.format is ${metadata.format === undefined ? 'missing' : JSON.stringify(metadata.format)}, expected '${STATE_FORMAT}'`,
    );
  }
  const step = count(metadata.step, 'step', where);
  const skippedSteps = metadata.skipped_steps === undefined ? 0 : count(metadata.skipped_steps, 'skipped_steps', where);
  if (skippedSteps > step)
    throw new Error(`${where}: __metadata__.skipped_steps (${skippedSteps}) is more than step (${step})`);

  const values = Object.fromEntries(
    STATE_BUFFERS.map((b) => [b, new Float32Array(lengths[b])]),
  ) as StateValues['values'];
  for (const e of entries) {
    const found = file.tensors.get(e.name);
    if (!found) throw new Error(`${where}: the state has no tensor '${e.name}'`);
    // M may come in any float dtype the library writes (a 16-bit M rounds an F32 one to nearest).
    const dtypes = e.buffer === 'momentum' ? ['F32', 'BF16', 'F16'] : ['F32'];
    if (!dtypes.includes(found.dtype))
      throw new Error(`${where}: tensor '${e.name}' is ${found.dtype}, expected ${dtypes.join(', ')}`);
    if (found.shape.length !== e.shape.length || found.shape.some((d, i) => d !== e.shape[i])) {
      throw new Error(
        `${where}: tensor '${e.name}' has shape [${found.shape.join(', ')}], expected [${e.shape.join(', ')}]`,
      );
    }
    const saved = floatValues(found);
    checkStateValues(where, `tensor '${e.name}'`, STATE_SLOTS[e.slot].kind, saved);
    if (e.buffer === 'momentum' && momentumDtype !== 'f32') {
      const at = saved.findIndex((v) => !Number.isFinite(roundTo(momentumDtype, v)));
      if (at >= 0)
        throw new Error(
          `${where}: tensor '${e.name}' holds ${saved[at]} at element ${at}, past the largest ${momentumDtype} (momentumDtype); the state does not fit`,
        );
    }
    values[e.buffer].set(keptValues(e, saved), e.offset);
  }
  const expected = new Set(entries.map((e) => e.name));
  for (const name of file.tensors.keys()) {
    if (!expected.has(name))
      throw new Error(`${where}: tensor '${name}' in the state belongs to no tensor of this optimizer`);
  }
  return { values, step, skippedSteps };
}

/** A count in the metadata: a decimal integer string, at most Number.MAX_SAFE_INTEGER. */
function count(text: string | undefined, key: string, where: string): number {
  const value = Number(text);
  if (typeof text !== 'string' || !/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(value)) {
    throw new Error(
      `${where}: __metadata__.${key} is ${text === undefined ? 'missing' : JSON.stringify(text)}, not a count (a decimal integer from 0 to 2^53 - 1)`,
    );
  }
  return value;
}

/** The options that decide which state tensors a tensor has and their shapes. */
const STATE_SHAPING = ['factorDims', 'minDimSizeToFactor', 'beta1', 'momentumDtype'] as const;

/**
 * Where the options a file was saved with (its `__metadata__.options`) differ from `options` in
 * what shapes the state, said in words ('' when they do not, or the file says nothing): for the
 * error of a file that does not fit.
 */
export function stateOptionsDifference(bytes: Uint8Array, options: ResolvedOptions): string {
  let saved: Record<string, unknown>;
  try {
    saved = optionsFromJson(JSON.parse(decodeSafetensors(bytes).metadata.options ?? '{}')) as Record<string, unknown>;
  } catch {
    return '';
  }
  const defaults: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  const differences = STATE_SHAPING.flatMap((key) => {
    const there = key in saved ? saved[key] : defaults[key];
    const here = typeof options[key] === 'function' ? 'function' : options[key];
    if (key === 'beta1' ? (there === undefined) === (here === undefined) : there === here) return [];
    const show = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v));
    return [`${key} ${show(there)} in the file, ${show(here)} here`];
  });
  return differences.length > 0 ? ` (the file was saved with other options: ${differences.join('; ')})` : '';
}
