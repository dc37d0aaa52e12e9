/**
 * Checks of the caller's tensors, all made before any GPU work so that a bad input never
 * reaches the optimizer state. Every message names the tensor (its name, else its index).
 */
import { type Geometry, geometry } from '../core/shape.js';
import { BufferUsage } from './usage.js';

export type Dtype = 'f32' | 'f16';
const DTYPE_BYTES: Record<Dtype, number> = { f32: 4, f16: 2 };

/** One tensor handed to the optimizer. Parameters and gradients are row-major. */
export interface AdafactorParam {
  param: GPUBuffer;
  grad: GPUBuffer;
  /** The tensor's shape; [] is a scalar. Rank >= 2 is factored over the last two dims. */
  shape: readonly number[];
  /** Bytes into `param` where the tensor starts. Default 0. */
  paramOffset?: number;
  /** Bytes into `grad` where the gradient starts. Default 0. */
  gradOffset?: number;
  /** Used in error messages and saved-state names. Default: its index. */
  name?: string;
  /** The parameter's element type; 'f16' needs the device feature shader-f16. Default 'f32'. */
  dtype?: Dtype;
  /** The gradient's element type. Default: `dtype`. */
  gradDtype?: Dtype;
}

export interface CheckedParam {
  label: string;
  geom: Geometry;
  paramDtype: Dtype;
  gradDtype: Dtype;
  /** Offsets in elements of the buffer's dtype. */
  paramOffset: number;
  gradOffset: number;
  /** Whether the tensor has any element. */
  empty: boolean;
}

interface Range {
  buffer: GPUBuffer;
  start: number;
  end: number;
  label: string;
  what: 'parameter' | 'gradient';
}

/** A tensor's name in saved state: its `name`, else its index. */
export function tensorName(p: { name?: string } | undefined, index: number): string {
  return p && typeof p.name === 'string' && p.name !== '' ? p.name : String(index);
}

export function tensorLabel(p: { name?: string } | undefined, index: number): string {
  return p && typeof p.name === 'string' && p.name !== '' ? `tensor '${p.name}'` : `tensor ${index}`;
}

/** Checks shapes, dtypes, offsets, buffer sizes and usages, and overlaps; returns the tensors' geometry. */
export function checkParams(params: readonly AdafactorParam[], where = 'Adafactor'): CheckedParam[] {
  if (!Array.isArray(params)) throw new Error(`${where}: params must be an array of { param, grad, shape }`);
  const ranges: Range[] = [];
  const bufferDtypes = new Map<GPUBuffer, { dtype: Dtype; label: string }>();
  const checked = params.map((p, index) => {
    const label = `${where}: ${tensorLabel(p, index)}`;
    if (typeof p !== 'object' || p === null) throw new Error(`${label} is not an object { param, grad, shape }`);
    const geom = geometry(p.shape, label);
    const paramDtype = checkDtype(p.dtype ?? 'f32', `${label}: dtype`);
    const gradDtype = checkDtype(p.gradDtype ?? paramDtype, `${label}: gradDtype`);
    for (const [buffer, dtype, what] of [
      [p.param, paramDtype, 'param'],
      [p.grad, gradDtype, 'grad'],
    ] as const) {
      const other = bufferDtypes.get(buffer);
      if (other && other.dtype !== dtype)
        throw new Error(
          `${label}: its ${what} buffer holds ${dtype} here and ${other.dtype} for ${other.label.replace(/^.*?: /, '')}; one buffer holds one dtype`,
        );
      bufferDtypes.set(buffer, { dtype, label });
    }
    const paramBytes = geom.numel * DTYPE_BYTES[paramDtype];
    const gradBytes = geom.numel * DTYPE_BYTES[gradDtype];
    const paramOffset = checkBuffer(p.param, p.paramOffset, paramBytes, `${label}: param`, DTYPE_BYTES[paramDtype]);
    const gradOffset = checkBuffer(p.grad, p.gradOffset, gradBytes, `${label}: grad`, DTYPE_BYTES[gradDtype]);
    if (geom.numel > 0) {
      ranges.push({ buffer: p.param, start: paramOffset, end: paramOffset + paramBytes, label, what: 'parameter' });
      ranges.push({ buffer: p.grad, start: gradOffset, end: gradOffset + gradBytes, label, what: 'gradient' });
    }
    return {
      label,
      geom,
      paramDtype,
      gradDtype,
      paramOffset: paramOffset / DTYPE_BYTES[paramDtype],
      gradOffset: gradOffset / DTYPE_BYTES[gradDtype],
      empty: geom.numel === 0,
    };
  });
  checkOverlaps(ranges);
  const seen = new Map<string, number>();
  params.forEach((p, index) => {
    const name = tensorName(p, index);
    const earlier = seen.get(name);
    if (earlier !== undefined)
      throw new Error(
        `${where}: ${tensorLabel(p, index)} has the name of tensor ${earlier}; names must be unique (they name the saved state)`,
      );
    seen.set(name, index);
  });
  return checked;
}

export function dtypeBytes(dtype: Dtype): number {
  return DTYPE_BYTES[dtype];
}

function checkDtype(dtype: unknown, label: string): Dtype {
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`${label} must be 'f32' or 'f16', got ${String(dtype)}`);
  return dtype;
}

function checkBuffer(
  buffer: GPUBuffer,
  offset: number | undefined,
  byteLength: number,
  label: string,
  elementSize: number,
): number {
  // Where the global GPUBuffer exists (browsers; Node with the webgpu package's globals), only a
  // real one passes: an object that merely looks like one would fail later, inside WebGPU.
  const GPUBufferClass = (globalThis as { GPUBuffer?: abstract new () => unknown }).GPUBuffer;
  const looksLikeOne =
    typeof buffer === 'object' &&
    buffer !== null &&
    typeof buffer.size === 'number' &&
    typeof buffer.usage === 'number';
  if (!looksLikeOne || (typeof GPUBufferClass === 'function' && !(buffer instanceof GPUBufferClass))) {
    throw new Error(`${label} is not a GPUBuffer`);
  }
  const start = offset ?? 0;
  if (typeof start !== 'number' || !Number.isInteger(start) || start < 0) {
    throw new Error(`${label} offset ${String(start)} is not an integer >= 0`);
  }
  if (start % elementSize !== 0) {
    throw new Error(`${label} offset ${start} is not a multiple of ${elementSize} bytes`);
  }
  if ((buffer.usage & BufferUsage.STORAGE) === 0) {
    throw new Error(`${label} buffer was not created with GPUBufferUsage.STORAGE`);
  }
  if (start + byteLength > buffer.size) {
    throw new Error(`${label} needs bytes [${start}, ${start + byteLength}) but its buffer has ${buffer.size} bytes`);
  }
  // Bindings cover whole 4-byte words: an f16 tensor that ends inside a word needs that word.
  const wordEnd = Math.ceil((start + byteLength) / 4) * 4;
  if (byteLength > 0 && wordEnd > buffer.size) {
    throw new Error(
      `${label} ends inside the last 4-byte word of its ${buffer.size}-byte buffer; make the buffer's size a multiple of 4`,
    );
  }
  return start;
}

/** Two writes to one element in a step would race: no parameter range may overlap another, nor its gradient. */
function checkOverlaps(ranges: Range[]): void {
  const byBuffer = new Map<GPUBuffer, Range[]>();
  for (const r of ranges) byBuffer.set(r.buffer, [...(byBuffer.get(r.buffer) ?? []), r]);
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1];
      const b = list[i];
      if (b.start < a.end) {
        const same = a.label === b.label;
        throw new Error(
          same
            ? `${a.label}: its parameter and gradient ranges overlap in one buffer`
            : `${b.label}: its ${b.what} range [${b.start}, ${b.end}) overlaps the ${a.what} range [${a.start}, ${a.end}) of ${a.label.replace(/^.*?: /, '')}`,
        );
      }
    }
  }
}

/** A step reads a gradient while it writes its parameter: the two may not share a buffer. */
export function checkSeparateGradients(params: readonly AdafactorParam[], checked: readonly CheckedParam[]): void {
  params.forEach((p, i) => {
    if (p.param === p.grad && !checked[i].empty) {
      throw new Error(
        `${checked[i].label}: param and grad are the same GPUBuffer; give gradients a buffer of their own`,
      );
    }
  });
}

/** The buffers of one group of tensors: those of its tensors, by their index in the caller's list. */
export interface GroupMembers {
  members: readonly number[];
}

/**
 * The tensors with `buffers[i]` in place of tensor i's param and/or grad, and each group's new
 * pair of buffers, for `rebind`: checks everything (the entries, each tensor as the constructor
 * does, and that the tensors of each group still share their buffers and no others) and throws
 * an Error naming the first problem.
 */
export function rebindParams(
  current: readonly AdafactorParam[],
  groups: readonly GroupMembers[],
  buffers: readonly { param?: GPUBuffer; grad?: GPUBuffer }[],
  where = 'Adafactor.rebind',
): { params: AdafactorParam[]; groupBuffers: { paramBuffer: GPUBuffer; gradBuffer: GPUBuffer }[] } {
  if (!Array.isArray(buffers) || buffers.length !== current.length) {
    throw new Error(
      `${where}: needs one entry per tensor (${current.length}), got ${Array.isArray(buffers) ? buffers.length : String(buffers)}`,
    );
  }
  buffers.forEach((b, i) => {
    if (typeof b !== 'object' || b === null)
      throw new Error(`${where}: entry ${i} is ${String(b)}, not { param?, grad? }`);
    const unknown = Object.keys(b).find((key) => key !== 'param' && key !== 'grad');
    if (unknown !== undefined)
      throw new Error(`${where}: entry ${i} has the unknown key '${unknown}'; it takes param and grad`);
  });
  const params = current.map((p, i) => ({ ...p, param: buffers[i].param ?? p.param, grad: buffers[i].grad ?? p.grad }));
  const checked = checkParams(params, where);
  checkSeparateGradients(params, checked);
  const groupBuffers = groups.map(({ members }) => {
    const first = params[members[0]];
    for (const input of members) {
      if (params[input].param !== first.param || params[input].grad !== first.grad) {
        throw new Error(
          `${where}: ${tensorLabel(params[input], input)} shared its buffers with ${tensorLabel(first, members[0])} and no longer does; make a new optimizer for a new layout`,
        );
      }
    }
    return { paramBuffer: first.param, gradBuffer: first.grad };
  });
  const pairs = new Map<GPUBuffer, Set<GPUBuffer>>();
  for (const g of groupBuffers) {
    const grads = pairs.get(g.paramBuffer) ?? new Set();
    if (grads.has(g.gradBuffer))
      throw new Error(
        `${where}: tensors that had buffers of their own would now share them; make a new optimizer for a new layout`,
      );
    pairs.set(g.paramBuffer, grads.add(g.gradBuffer));
  }
  return { params, groupBuffers };
}
