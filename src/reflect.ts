/**
 * What the host knows about the shaders comes from the shaders: bindings, struct layouts and
 * constants are read from the WGSL with wgsl_reflect, never restated here.
 */
import { type StructInfo, type VariableInfo, WgslExec, WgslParser, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { COMMON_SOURCE } from './shaders.js';

// GPUBufferUsage and GPUShaderStage values, fixed by the WebGPU spec; spelled out so the library
// does not depend on globals that Node's WebGPU only installs on request.
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const SHADER_STAGE_COMPUTE = 0x4;

/** A binding of the common prelude. */
export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'storage' | 'read-only-storage' | 'uniform';
  /** Bytes of one array element (or the whole struct for a uniform). */
  elementSize: number;
}

/** A struct's members and byte offsets, to write host tables by field name. */
export class StructLayout {
  readonly size: number;
  readonly fields: ReadonlyMap<string, { offset: number; type: string }>;

  constructor(readonly name: string, info: StructInfo) {
    this.size = info.size;
    this.fields = new Map(info.members.map((m) => [m.name, { offset: m.offset, type: m.type.name }]));
  }

  /** Writes `values` into `view` at `base`; every field but padding must be given, and nothing else. */
  write(view: DataView, base: number, values: Readonly<Record<string, number>>): void {
    for (const key of Object.keys(values)) {
      if (!this.fields.has(key)) throw new Error(`internal: WGSL struct ${this.name} has no field '${key}'`);
    }
    for (const [field, { offset, type }] of this.fields) {
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

/** Everything the host reads from the common prelude. */
export interface ShaderInterface {
  bindings: BindingInfo[];
  structs: { Tensor: StructLayout; Settings: StructLayout; Group: StructLayout };
  constants: { WORKGROUP_SIZE: number; TILE_ROWS: number; TILE_COLS: number; VECTOR_TILE: number; LINE_BLOCK: number; NO_MOMENTUM: number };
}

let cached: ShaderInterface | undefined;

export function shaderInterface(): ShaderInterface {
  if (cached) return cached;
  const reflect = new WgslReflect(COMMON_SOURCE);
  const bindings = reflect.getBindGroups().flatMap((group, index) => {
    if (index !== 0) throw new Error('internal: the shaders must use bind group 0 only');
    return group.map(bindingInfo);
  });
  const struct = (name: string) => {
    const info = reflect.getStructInfo(name);
    if (!info) throw new Error(`internal: WGSL struct ${name} not found`);
    return new StructLayout(name, info);
  };
  const exec = new WgslExec(new WgslParser().parse(COMMON_SOURCE));
  exec.execute();
  const constant = (name: string): number => {
    const value = exec.getVariableValue(name);
    if (typeof value !== 'number') throw new Error(`internal: WGSL constant ${name} not found`);
    return value;
  };
  cached = {
    bindings,
    structs: { Tensor: struct('Tensor'), Settings: struct('Settings'), Group: struct('Group') },
    constants: {
      WORKGROUP_SIZE: constant('WORKGROUP_SIZE'),
      TILE_ROWS: constant('TILE_ROWS'),
      TILE_COLS: constant('TILE_COLS'),
      VECTOR_TILE: constant('VECTOR_TILE'),
      LINE_BLOCK: constant('LINE_BLOCK'),
      NO_MOMENTUM: constant('NO_MOMENTUM'),
    },
  };
  return cached;
}

function bindingInfo(v: VariableInfo): BindingInfo {
  const isUniform = v.resourceType === 0;
  const kind = isUniform ? 'uniform' : v.access === 'read' ? 'read-only-storage' : 'storage';
  const elementSize = v.isArray ? v.stride : v.size;
  return { name: v.name, binding: v.binding, kind, elementSize };
}

/** The bind group layout of every kernel, from the prelude's declarations. */
export function bindGroupLayoutEntries(bindings: readonly BindingInfo[], dynamic: ReadonlySet<string>): GPUBindGroupLayoutEntry[] {
  return bindings.map((b) => ({
    binding: b.binding,
    visibility: SHADER_STAGE_COMPUTE,
    buffer: { type: b.kind, hasDynamicOffset: dynamic.has(b.name) },
  }));
}
