/**
 * The host side of the TypeScript/WGSL boundary, built from the shaders' reflected interface
 * (shaders/interface.wgsl and the views' bindings (param, grad, momentum), read at build time by reflect.ts): struct
 * layouts read and written by field name, the bind group layout, and the constants.
 */
import type { BindingInfo, ShaderInterface, StructData } from './reflect.js';
import { ShaderStage } from './usage.js';
import kernelInterface from '../../shaders/interface.wgsl?reflect';
import paramInterface from '../../shaders/param_f32.wgsl?reflect';
import gradInterface from '../../shaders/grad_f32.wgsl?reflect';
import momentumInterface from '../../shaders/momentum_f32.wgsl?reflect';

/** A WGSL struct, read from and written into a DataView by field name; every field but padding must be given. */
export class StructLayout {
  readonly size: number;

  constructor(
    readonly name: string,
    private readonly data: StructData,
  ) {
    this.size = data.size;
  }

  /** Byte offset of a field in the struct. */
  offsetOf(field: string): number {
    const found = this.data.fields[field];
    if (!found) throw new Error(`internal: WGSL struct ${this.name} has no field '${field}'`);
    return found.offset;
  }

  write(view: DataView, base: number, values: Readonly<Record<string, number>>): void {
    for (const key of Object.keys(values)) {
      if (!(key in this.data.fields)) throw new Error(`internal: WGSL struct ${this.name} has no field '${key}'`);
    }
    for (const [field, { offset, type }] of Object.entries(this.data.fields)) {
      const value = values[field];
      if (value === undefined) {
        if (field.startsWith('_')) continue;
        throw new Error(`internal: no value for ${this.name}.${field}`);
      }
      if (type === 'f32') view.setFloat32(base + offset, value, true);
      else if (type === 'u32') view.setUint32(base + offset, value, true);
      else if (type === 'i32') view.setInt32(base + offset, value, true);
      else throw new Error(`internal: ${this.name}.${field} has type ${type}, which the host cannot write`);
    }
  }

  /** Every field but padding, by name. */
  read(view: DataView, base: number): Record<string, number> {
    const values: Record<string, number> = {};
    for (const [field, { offset, type }] of Object.entries(this.data.fields)) {
      if (field.startsWith('_')) continue;
      if (type === 'f32') values[field] = view.getFloat32(base + offset, true);
      else if (type === 'u32') values[field] = view.getUint32(base + offset, true);
      else if (type === 'i32') values[field] = view.getInt32(base + offset, true);
      else throw new Error(`internal: ${this.name}.${field} has type ${type}, which the host cannot read`);
    }
    return values;
  }
}

function constant(info: ShaderInterface, name: string): number {
  const value = info.constants[name];
  if (value === undefined) throw new Error(`internal: WGSL constant ${name} not found`);
  return value;
}

function struct(info: ShaderInterface, name: string): StructLayout {
  const data = info.structs[name];
  if (!data) throw new Error(`internal: WGSL struct ${name} not found`);
  return new StructLayout(name, data);
}

/** What the host knows of the kernels (shaders/interface.wgsl). */
export const SHADER = {
  bindings: [
    ...paramInterface.bindings,
    ...gradInterface.bindings,
    ...momentumInterface.bindings,
    ...kernelInterface.bindings,
  ] as readonly BindingInfo[],
  structs: {
    Tensor: struct(kernelInterface, 'Tensor'),
    GroupSettings: struct(kernelInterface, 'GroupSettings'),
    Window: struct(kernelInterface, 'Window'),
    TensorScalars: struct(kernelInterface, 'TensorScalars'),
  },
  constants: {
    WORKGROUP_SIZE: constant(kernelInterface, 'WORKGROUP_SIZE'),
    TILE_ROWS: constant(kernelInterface, 'TILE_ROWS'),
    TILE_COLS: constant(kernelInterface, 'TILE_COLS'),
    VECTOR_TILE: constant(kernelInterface, 'VECTOR_TILE'),
    LINE_BLOCK: constant(kernelInterface, 'LINE_BLOCK'),
    NO_MOMENTUM: constant(kernelInterface, 'NO_MOMENTUM'),
    STATUS_WORDS: constant(kernelInterface, 'STATUS_WORDS'),
    STATUS_SKIP: constant(kernelInterface, 'STATUS_SKIP'),
    STATUS_SKIPPED_STEPS: constant(kernelInterface, 'STATUS_SKIPPED_STEPS'),
    SKIPPED_DIGITS: constant(kernelInterface, 'SKIPPED_DIGITS'),
    SKIPPED_DIGIT_BASE: constant(kernelInterface, 'SKIPPED_DIGIT_BASE'),
    STATUS_STEP: constant(kernelInterface, 'STATUS_STEP'),
    STATUS_GRAD_NORM: constant(kernelInterface, 'STATUS_GRAD_NORM'),
    TILE_PARTIALS: constant(kernelInterface, 'TILE_PARTIALS'),
    NO_STOCHASTIC_ROUNDING: constant(kernelInterface, 'NO_STOCHASTIC_ROUNDING'),
  },
};

/** The bind group layout of every kernel, from the declared bindings. */
export function bindGroupLayoutEntries(): GPUBindGroupLayoutEntry[] {
  return SHADER.bindings.map((b) => {
    if (b.group !== 0)
      throw new Error(`internal: binding ${b.name} is in group ${b.group}; the kernels use group 0 only`);
    return { binding: b.binding, visibility: ShaderStage.COMPUTE, buffer: { type: b.kind } };
  });
}
