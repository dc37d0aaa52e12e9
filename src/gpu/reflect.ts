/**
 * Build-time reflection of the shaders with wgsl_reflect: bindings, struct layouts and constants
 * are read from the WGSL, never restated by hand. The Vite plugin in vite.config.ts runs this on
 * `*.wgsl?reflect` imports, so the library ships plain data and no WGSL parser.
 */
import {
  ResourceType,
  type StructInfo,
  type VariableInfo,
  WgslExec,
  WgslParser,
  WgslReflect,
} from 'wgsl_reflect/wgsl_reflect.module.js';

export interface BindingInfo {
  name: string;
  group: number;
  binding: number;
  kind: 'storage' | 'read-only-storage' | 'uniform';
  /** Bytes of one array element, or of the whole type when it is not an array. */
  elementSize: number;
  /** WGSL type of one element: 'f32', 'Tensor', ... */
  elementType: string;
}

export interface StructData {
  size: number;
  fields: Record<string, { offset: number; type: string }>;
}

export interface ShaderInterface {
  bindings: BindingInfo[];
  structs: Record<string, StructData>;
  /** Module-scope `const` declarations with scalar values. */
  constants: Record<string, number>;
  /** Compute entry points and their workgroup sizes. */
  entryPoints: Record<string, [number, number, number]>;
}

export function reflectShader(source: string): ShaderInterface {
  const reflect = new WgslReflect(source);
  const bindings = reflect.getBindGroups().flatMap((group) => group.filter(Boolean).map(bindingInfo));
  const structs = Object.fromEntries(reflect.structs.map((s) => [s.name, structData(s)]));
  const exec = new WgslExec(new WgslParser().parse(source));
  exec.execute();
  const constants: Record<string, number> = {};
  for (const node of new WgslParser().parse(source)) {
    if (node.astNodeType !== 'const') continue;
    const name = (node as unknown as { name: string }).name;
    const value = exec.getVariableValue(name);
    if (typeof value === 'number') constants[name] = value;
  }
  const entryPoints = Object.fromEntries(
    reflect.entry.compute.map((f): [string, [number, number, number]] => [f.name, f.workgroupSize ?? [1, 1, 1]]),
  );
  return { bindings, structs, constants, entryPoints };
}

function bindingInfo(v: VariableInfo): BindingInfo {
  const kind =
    v.resourceType === ResourceType.Uniform ? 'uniform' : v.access === 'read' ? 'read-only-storage' : 'storage';
  if (v.resourceType !== ResourceType.Uniform && v.resourceType !== ResourceType.Storage) {
    throw new Error(`WGSL binding ${v.name}: only buffers are supported`);
  }
  return {
    name: v.name,
    group: v.group,
    binding: v.binding,
    kind,
    elementSize: v.isArray ? v.stride : v.size,
    elementType: (v.isArray ? v.format?.name : v.type.name) ?? '?',
  };
}

function structData(s: StructInfo): StructData {
  return {
    size: s.size,
    fields: Object.fromEntries(s.members.map((m) => [m.name, { offset: m.offset, type: m.type.name }])),
  };
}
