/**
 * The host side of the TypeScript/WGSL boundary, built from the shaders' reflected interface:
 * struct writers by field name, the bind group layout, and the constants.
 */
import type { BindingInfo, ShaderInterface, StructData } from './reflect.js';
import commonInterface from '../shaders/common.wgsl?reflect';
import paramInterface from '../shaders/param_f32.wgsl?reflect';
import gradInterface from '../shaders/grad_f32.wgsl?reflect';

// GPUBufferUsage and GPUShaderStage values, fixed by the WebGPU spec; spelled out so the library
// does not depend on globals that Node's WebGPU only installs on request.
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const SHADER_STAGE_COMPUTE = 0x4;

/** Writes a WGSL struct into a DataView by field name; every field but padding must be given. */
export class StructLayout {
  readonly size: number;

  constructor(readonly name: string, private readonly data: StructData) {
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

/** What the host knows of the common prelude (shaders/common.wgsl). */
export const SHADER = {
  bindings: [...paramInterface.bindings, ...gradInterface.bindings, ...commonInterface.bindings] as readonly BindingInfo[],
  structs: {
    Tensor: struct(commonInterface, 'Tensor'),
    GroupSettings: struct(commonInterface, 'GroupSettings'),
    Window: struct(commonInterface, 'Window'),
  },
  constants: {
    WORKGROUP_SIZE: constant(commonInterface, 'WORKGROUP_SIZE'),
    TILE_ROWS: constant(commonInterface, 'TILE_ROWS'),
    TILE_COLS: constant(commonInterface, 'TILE_COLS'),
    VECTOR_TILE: constant(commonInterface, 'VECTOR_TILE'),
    LINE_BLOCK: constant(commonInterface, 'LINE_BLOCK'),
    NO_MOMENTUM: constant(commonInterface, 'NO_MOMENTUM'),
    STATUS_WORDS: constant(commonInterface, 'STATUS_WORDS'),
    STATUS_SKIP: constant(commonInterface, 'STATUS_SKIP'),
    STATUS_SKIPPED_STEPS: constant(commonInterface, 'STATUS_SKIPPED_STEPS'),
    SKIPPED_DIGITS: constant(commonInterface, 'SKIPPED_DIGITS'),
    SKIPPED_DIGIT_BASE: constant(commonInterface, 'SKIPPED_DIGIT_BASE'),
    STATUS_STEP: constant(commonInterface, 'STATUS_STEP'),
    TILE_PARTIALS: constant(commonInterface, 'TILE_PARTIALS'),
    TENSOR_SCALARS: constant(commonInterface, 'TENSOR_SCALARS'),
    NO_STOCHASTIC_ROUNDING: constant(commonInterface, 'NO_STOCHASTIC_ROUNDING'),
  },
};

/** The bind group layout of every kernel, from the prelude's declarations. */
export function bindGroupLayoutEntries(): GPUBindGroupLayoutEntry[] {
  return SHADER.bindings.map((b) => {
    if (b.group !== 0) throw new Error(`internal: binding ${b.name} is in group ${b.group}; the kernels use group 0 only`);
    return { binding: b.binding, visibility: SHADER_STAGE_COMPUTE, buffer: { type: b.kind } };
  });
}
