/**
 * How a group's buffers are bound: the views of its parameters and gradients (which param_*.wgsl
 * and grad_*.wgsl each group's pipelines use), the byte range of each buffer a window binds, its
 * Window uniform, and its bind group, laid out from the reflected bindings.
 */
import { SHADER } from './interface.js';
import type { ViewName } from './kernels.js';
import type { PlannedGroup, PlannedTensor } from './plan.js';
import type { BindingRange, PlannedWindow } from './windows.js';

/** How one group binds its parameters and its gradients. */
export interface GroupViews {
  param: ViewName;
  grad: ViewName;
}

export function align(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/**
 * A range widened to a multiple of `multiple` bytes (16 for quads of f32, 4 for any binding),
 * if the buffer is long enough.
 */
function widenedRange(buffer: GPUBuffer, range: BindingRange | undefined, multiple: number): BindingRange | undefined {
  if (!range) return undefined;
  const size = align(range.size, multiple);
  return range.offset + size <= buffer.size ? { offset: range.offset, size } : undefined;
}

/** The range to bind for a view: f32 quads need a multiple of 16 bytes, every binding one of 4. */
function viewRange(buffer: GPUBuffer, range: BindingRange | undefined, view: ViewName): BindingRange | undefined {
  if (!range) return undefined;
  const widened = widenedRange(buffer, range, view === 'f32x4' || view === 'quads' ? 16 : 4);
  if (!widened)
    throw new Error(
      `Adafactor: a ${buffer.size}-byte buffer ends inside a 4-byte word that an f16 tensor uses; make its size a multiple of 4`,
    );
  return widened;
}

/** A buffer range as a binding; a range a window does not touch binds the buffer's first bytes. */
function windowed(buffer: GPUBuffer, range: BindingRange | undefined): GPUBufferBinding {
  return range
    ? { buffer, offset: range.offset, size: range.size }
    : { buffer, offset: 0, size: Math.min(buffer.size, 16) };
}

/**
 * f16 tensors bind f16; f32 ones bind quads when every binding of the group can be widened to a
 * multiple of 16 bytes without passing the end of its buffer (quads with no per-element test when
 * every tensor's quads are whole and aligned), single floats otherwise.
 */
export function chooseViews(
  g: PlannedGroup<GPUBuffer>,
  members: readonly PlannedTensor[],
  windows: readonly PlannedWindow[],
): GroupViews {
  const view = (
    buffer: GPUBuffer,
    elementBytes: number,
    ranges: (BindingRange | undefined)[],
    aligned: boolean,
  ): ViewName => {
    if (elementBytes === 2) return 'f16';
    if (!ranges.every((r) => widenedRange(buffer, r, 16))) return 'f32';
    return aligned ? 'quads' : 'f32x4';
  };
  return {
    param: view(
      g.paramBuffer,
      g.paramElementBytes,
      windows.map((w) => w.param),
      members.every((t) => t.paramQuads),
    ),
    grad: view(
      g.gradBuffer,
      g.gradElementBytes,
      windows.map((w) => w.grad),
      members.every((t) => t.gradQuads),
    ),
  };
}

/** The Window uniform of one window of a group (a group's first window also serves its group-wide passes). */
export function windowUniformData(
  g: PlannedGroup<unknown>,
  w: PlannedWindow,
  totalTensors: number,
  momentumElementBytes: number,
): ArrayBuffer {
  const { Window } = SHADER.structs;
  const data = new DataView(new ArrayBuffer(align(Window.size, 16)));
  Window.write(data, 0, {
    firstTensor: g.firstTensor,
    tensorCount: g.tensorCount,
    lineBlockCount: g.lineBlockCount,
    firstTile: w.firstTile,
    tileCount: w.tileCount - w.wholeTensorCount,
    wholeTensorCount: w.wholeTensorCount,
    paramBase: (w.param?.offset ?? 0) / g.paramElementBytes,
    gradBase: (w.grad?.offset ?? 0) / g.gradElementBytes,
    fullStateBase: (w.fullState?.offset ?? 0) / 4,
    momentumBase: (w.momentum?.offset ?? 0) / momentumElementBytes,
    totalTensors,
  });
  return data.buffer;
}

/** The optimizer's own buffers that every window binds, whole or by the window's range. */
export interface SharedBuffers {
  table: GPUBuffer;
  settings: GPUBuffer;
  factorState: GPUBuffer;
  fullState: GPUBuffer;
  momentum: GPUBuffer;
  scratch: GPUBuffer;
}

/** The bind group of one window of a group, over the group's current buffers. */
export function windowBindGroup(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  label: string,
  g: PlannedGroup<GPUBuffer>,
  w: PlannedWindow,
  views: GroupViews,
  shared: SharedBuffers,
  uniform: GPUBuffer,
): GPUBindGroup {
  const resources: Record<string, GPUBufferBinding> = {
    param: windowed(g.paramBuffer, viewRange(g.paramBuffer, w.param, views.param)),
    grad: windowed(g.gradBuffer, viewRange(g.gradBuffer, w.grad, views.grad)),
    tensors: { buffer: shared.table },
    settings: { buffer: shared.settings },
    factorState: { buffer: shared.factorState },
    fullState: windowed(shared.fullState, w.fullState),
    momentum: windowed(shared.momentum, w.momentum),
    scratch: { buffer: shared.scratch },
    window: { buffer: uniform },
  };
  return device.createBindGroup({
    label,
    layout,
    entries: SHADER.bindings.map((b) => {
      const resource = resources[b.name];
      if (!resource) throw new Error(`internal: no resource for binding '${b.name}'`);
      return { binding: b.binding, resource };
    }),
  });
}
