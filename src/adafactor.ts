/**
 * The WebGPU Adafactor: owns the optimizer state, builds every buffer, pipeline and bind group
 * at construction, and records each step as a fixed sequence of dispatches (see shaders/).
 */
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, resolveOptions, stepSize } from './options.js';
import { type Plan, planTensors } from './plan.js';
import { BufferUsage, SHADER, bindGroupLayoutEntries, binding } from './layout.js';
import { COMMON_SOURCE, KERNEL_ORDER, KERNEL_SOURCES, type KernelName } from './shaders.js';
import { type AdafactorParam, type CheckedParam, checkParams } from './validate.js';

/** Steps that may be recorded before the earliest of them is submitted (ring of per-step scalars). */
export const MAX_PENDING_STEPS = 64;

/** Which dispatch count each kernel runs on: tiles, line blocks or tensors of a group. */
const WORK_ITEMS: Record<KernelName, (g: Plan<GPUBuffer>['groups'][number]) => number> = {
  stats: (g) => g.tileCount,
  finalizeStats: (g) => g.lineBlockCount,
  updateNorm: (g) => (g.hasFactored ? g.tileCount : 0),
  finalizeScale: (g) => g.tensorCount,
  apply: (g) => g.tileCount,
};

interface GroupResources {
  bindGroup: GPUBindGroup;
  workItems: Record<KernelName, number>;
}

/** The optimizer's own buffers, for tests and state save/load; not part of the public API. */
export interface InternalBuffers {
  state: GPUBuffer;
  momentum: GPUBuffer;
  scratch: GPUBuffer;
  plan: Plan<GPUBuffer>;
}
const internals = new WeakMap<Adafactor, InternalBuffers>();
export function internalBuffers(optimizer: Adafactor): InternalBuffers {
  const found = internals.get(optimizer);
  if (!found) throw new Error('internal: not an Adafactor');
  return found;
}

export class Adafactor {
  /** Steps recorded so far. */
  stepCount = 0;

  private readonly options: ResolvedOptions;
  private readonly plan: Plan<GPUBuffer>;
  private readonly pipelines: Record<KernelName, GPUComputePipeline>;
  private readonly groups: GroupResources[];
  private readonly ownedBuffers: GPUBuffer[] = [];
  private readonly stateBuffer: GPUBuffer;
  private readonly momentumBuffer: GPUBuffer;
  private readonly settingsRing: GPUBuffer;
  private readonly settingsSlotBytes: number;
  private readonly pendingByEncoder = new WeakMap<GPUCommandEncoder, number>();
  private readonly tensors: CheckedParam[];
  private destroyed = false;
  private deviceLostReason: string | undefined;

  constructor(
    private readonly device: GPUDevice,
    params: readonly AdafactorParam[],
    options: AdafactorOptions = {},
  ) {
    if (!device || typeof device.createBuffer !== 'function') throw new Error('Adafactor: the first argument must be a GPUDevice');
    this.options = resolveOptions(options);
    const elementSize = binding('param').elementSize;
    this.tensors = checkParams(params, elementSize);
    params.forEach((p, i) => {
      if (p.param === p.grad && this.tensors[i].byteLength > 0) {
        throw new Error(`${this.tensors[i].label}: param and grad are the same GPUBuffer; give gradients a buffer of their own`);
      }
    });
    this.plan = planTensors(
      this.tensors.map((t, i) => ({
        geom: t.geom,
        paramBuffer: params[i].param,
        gradBuffer: params[i].grad,
        paramOffset: t.paramOffset,
        gradOffset: t.gradOffset,
        settings: 0,
        momentum: this.options.beta1 !== undefined,
      })),
      SHADER.constants,
    );
    this.checkBindingSizes(params);

    void device.lost?.then((info) => {
      this.deviceLostReason = info.message || info.reason || 'unknown reason';
    });

    const { Tensor, Settings, Group } = SHADER.structs;
    const storage = (label: string, bytes: number, extra = 0) =>
      this.own(device.createBuffer({ label, size: Math.max(16, align(bytes, 4)), usage: BufferUsage.STORAGE | extra }));

    const table = storage('adafactor tensors', this.plan.tensors.length * Tensor.size, BufferUsage.COPY_DST);
    const tableData = new DataView(new ArrayBuffer(table.size));
    this.plan.tensors.forEach((t, i) => Tensor.write(tableData, i * Tensor.size, t.fields));
    device.queue.writeBuffer(table, 0, tableData.buffer);

    this.settingsSlotBytes = align(Settings.size, device.limits.minStorageBufferOffsetAlignment);
    this.settingsRing = storage('adafactor settings', this.settingsSlotBytes * MAX_PENDING_STEPS, BufferUsage.COPY_DST);
    this.stateBuffer = storage('adafactor state', this.plan.stateLength * 4, BufferUsage.COPY_SRC | BufferUsage.COPY_DST);
    this.momentumBuffer = storage('adafactor momentum', this.plan.momentumLength * 4, BufferUsage.COPY_SRC | BufferUsage.COPY_DST);
    const scratch = storage('adafactor scratch', this.plan.scratchLength * 4, BufferUsage.COPY_DST);

    internals.set(this, { state: this.stateBuffer, momentum: this.momentumBuffer, scratch, plan: this.plan });

    const layout = device.createBindGroupLayout({
      label: 'adafactor',
      entries: bindGroupLayoutEntries(new Set(['settings'])),
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'adafactor', bindGroupLayouts: [layout] });
    this.pipelines = Object.fromEntries(
      KERNEL_ORDER.map((name) => [
        name,
        device.createComputePipeline({
          label: `adafactor ${name}`,
          layout: pipelineLayout,
          compute: { module: device.createShaderModule({ label: `adafactor ${name}`, code: COMMON_SOURCE + KERNEL_SOURCES[name] }), entryPoint: 'main' },
        }),
      ]),
    ) as Record<KernelName, GPUComputePipeline>;

    this.groups = this.plan.groups.map((g, index) => {
      const uniform = this.own(device.createBuffer({ label: `adafactor group ${index}`, size: align(Group.size, 16), usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST }));
      const groupData = new DataView(new ArrayBuffer(uniform.size));
      Group.write(groupData, 0, { firstTensor: g.firstTensor, tensorCount: g.tensorCount, tileCount: g.tileCount, lineBlockCount: g.lineBlockCount });
      device.queue.writeBuffer(uniform, 0, groupData.buffer);
      const resources: Record<string, GPUBufferBinding> = {
        param: { buffer: g.paramBuffer },
        grad: { buffer: g.gradBuffer },
        tensors: { buffer: table },
        settings: { buffer: this.settingsRing, size: this.settingsSlotBytes },
        state: { buffer: this.stateBuffer },
        momentum: { buffer: this.momentumBuffer },
        scratch: { buffer: scratch },
        group: { buffer: uniform },
      };
      const bindGroup = device.createBindGroup({
        label: `adafactor group ${index}`,
        layout,
        entries: SHADER.bindings.map((b) => {
          const resource = resources[b.name];
          if (!resource) throw new Error(`internal: no resource for binding '${b.name}'`);
          return { binding: b.binding, resource };
        }),
      });
      const workItems = Object.fromEntries(KERNEL_ORDER.map((k) => [k, WORK_ITEMS[k](g)])) as Record<KernelName, number>;
      return { bindGroup, workItems };
    });
  }

  private get maxWorkgroupsPerDimension(): number {
    return Math.min(this.device.limits.maxComputeWorkgroupsPerDimension, this.options.limits.maxWorkgroupsPerDimension ?? Infinity);
  }

  /** Bytes of GPU memory the optimizer state occupies: R and C (or V) per tensor, and M with beta1. */
  get stateBytes(): number {
    return 4 * (this.plan.stateLength + this.plan.momentumLength);
  }

  /** Bytes of GPU scratch memory a step uses besides the state (tile partials and tables). */
  get workspaceBytes(): number {
    return this.ownedBuffers.reduce((sum, b) => sum + b.size, 0) - this.stateBuffer.size - this.momentumBuffer.size;
  }

  /** Compute dispatches one step records. */
  get dispatchesPerStep(): number {
    return this.groups.reduce((n, g) => n + KERNEL_ORDER.filter((k) => g.workItems[k] > 0).length, 0);
  }

  /**
   * Records one step. With an encoder the caller submits it (steps recorded into one encoder run
   * one after the other); without, the step is submitted at once. Nothing is read back.
   */
  step(encoder?: GPUCommandEncoder): void {
    this.checkUsable();
    const step = this.stepCount + 1;
    const slot = this.stepCount % MAX_PENDING_STEPS;
    const settings = this.settingsFor(step);
    if (encoder) {
      const pending = (this.pendingByEncoder.get(encoder) ?? 0) + 1;
      if (pending > MAX_PENDING_STEPS) {
        throw new Error(`Adafactor: more than ${MAX_PENDING_STEPS} steps recorded into one command encoder; submit it and record the rest into another`);
      }
      this.pendingByEncoder.set(encoder, pending);
    }
    this.device.queue.writeBuffer(this.settingsRing, slot * this.settingsSlotBytes, settings);
    const commands = encoder ?? this.device.createCommandEncoder({ label: 'adafactor step' });
    const pass = commands.beginComputePass({ label: `adafactor step ${step}` });
    for (const kernel of KERNEL_ORDER) {
      pass.setPipeline(this.pipelines[kernel]);
      for (const group of this.groups) {
        const count = group.workItems[kernel];
        if (count === 0) continue;
        pass.setBindGroup(0, group.bindGroup, [slot * this.settingsSlotBytes]);
        const [x, y] = dispatchGrid(count, this.maxWorkgroupsPerDimension);
        pass.dispatchWorkgroups(x, y);
      }
    }
    pass.end();
    if (!encoder) this.device.queue.submit([commands.finish()]);
    this.stepCount = step;
  }

  /** Frees the optimizer's GPU buffers; the optimizer cannot step afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.ownedBuffers) b.destroy();
  }

  private settingsFor(step: number): ArrayBuffer {
    const { Settings } = SHADER.structs;
    const o = this.options;
    const data = new DataView(new ArrayBuffer(Settings.size));
    Settings.write(data, 0, {
      beta2: beta2(o, step),
      oneMinusBeta2: oneMinusBeta2(o, step),
      rho: stepSize(o, step),
      eps1: o.eps1,
      eps2: o.eps2,
      clipThreshold: o.clipThreshold,
      beta1: o.beta1 ?? 0,
      weightDecay: o.weightDecay,
      scaleParameter: o.scaleParameter ? 1 : 0,
    });
    return data.buffer;
  }

  private checkUsable(): void {
    if (this.destroyed) throw new Error('Adafactor: step() after destroy(); make a new optimizer');
    if (this.deviceLostReason !== undefined) throw new Error(`Adafactor: the GPUDevice was lost (${this.deviceLostReason}); make a new device and optimizer`);
  }

  private checkBindingSizes(params: readonly AdafactorParam[]): void {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const check = (what: string, bytes: number) => {
      if (bytes > limit) throw new Error(`Adafactor: ${what} needs a binding of ${bytes} bytes, more than this device's maxStorageBufferBindingSize (${limit})`);
    };
    params.forEach((p, i) => {
      check(`${this.tensors[i].label.replace(/^Adafactor: /, '')} param buffer`, p.param.size);
      check(`${this.tensors[i].label.replace(/^Adafactor: /, '')} grad buffer`, p.grad.size);
    });
    check('the optimizer state', this.plan.stateLength * 4);
    check('the first moment (beta1)', this.plan.momentumLength * 4);
    check('the scratch space', this.plan.scratchLength * 4);
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.ownedBuffers.push(buffer);
    return buffer;
  }
}

/** A 1-D count as an (x, y) grid within the per-dimension limit; shaders flatten it back. */
export function dispatchGrid(count: number, maxPerDimension: number): [number, number] {
  const x = Math.min(count, maxPerDimension);
  return [x, Math.ceil(count / x)];
}

function align(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
