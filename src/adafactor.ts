/**
 * The WebGPU Adafactor: owns the optimizer state, builds every buffer, pipeline and bind group
 * at construction, and records each step as a fixed sequence of dispatches (see shaders/).
 */
import { BufferUsage, SHADER, bindGroupLayoutEntries } from './layout.js';
import { type AdafactorParamGroup, resolveGroups } from './groups.js';
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, stepSize } from './options.js';
import { type BindingRange, type Plan, type PlannedGroup, type PlannedTensor, type PlannedWindow, type TileGeometry, planTensors, planWindows } from './plan.js';
import { KERNEL_ORDER, KERNEL_VARIANTS, type KernelName, type KernelVariant, type ViewName, autoVariant, checkGeometry, moduleSource, variantTiles } from './shaders.js';
import { STATE_BUFFERS, type StateBuffer, type StateEntry, decodeCheckpoint, encodeCheckpoint, readStatus, stateEntries, statusWords } from './checkpoint.js';
import { withFactoringRule } from './shape.js';
import { createHalfTable, f32Bits, recordHalves, stepHalves, wordHalves } from './step_scalars.js';
import type { StepStats } from './reference.js';
import { type AdafactorParam, type CheckedParam, checkParams, dtypeBytes, tensorLabel, tensorName } from './validate.js';

export type { StateEntry } from './checkpoint.js';

/** What `stats()` reports: the last step that ran, and what it did to each tensor. */
export interface AdafactorStats {
  /** t of the last step that ran (0 before any). */
  step: number;
  /** Whether skipNonFinite skipped it. */
  skipped: boolean;
  /** Per tensor with elements, in the order given; empty until a step recorded since construction or loadState has run. */
  tensors: (StepStats & { name: string })[];
}

/**
 * How often each kernel is dispatched in a step and over what: per window of tiles, once per
 * group, or once for the whole optimizer.
 */
const KERNEL_SCOPE: Record<KernelName, 'window' | 'group' | 'optimizer'> = {
  stats: 'window',
  finalizeStats: 'group',
  meanRows: 'group',
  updateNorm: 'window',
  finalizeScale: 'group',
  decideSkip: 'optimizer',
  apply: 'window',
  wholeTensor: 'window',
};

/** How one group binds its parameters and its gradients. */
export interface GroupViews {
  param: ViewName;
  grad: ViewName;
}

/** One dispatch of a step: its kernel, pipeline, bind group and workgroup count. */
interface Dispatch {
  kernel: KernelName;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
}

/** @internal The optimizer's own buffers, for tests, state save/load and the tfjs entry; not part of the public API. */
export interface InternalBuffers {
  factorState: GPUBuffer;
  fullState: GPUBuffer;
  momentum: GPUBuffer;
  scratch: GPUBuffer;
  plan: Plan<GPUBuffer>;
  /** How each group binds its parameters and gradients. */
  views: GroupViews[];
  /** Where each state tensor lives, in the caller's order of tensors. */
  stateEntries: readonly StateEntry[];
  /** Sets the step count (TensorFlow.js keeps its own, `iterations`). */
  setStepCount(count: number): void;
  /**
   * Records one step with each dispatch in a compute pass of its own, made from `pass(kernel, i)`
   * (the i-th dispatch of the step): for profiling with timestamp writes.
   */
  recordProfiled(encoder: GPUCommandEncoder, pass: (kernel: KernelName, index: number) => GPUComputePassDescriptor): void;
  /** The kernels of each dispatch of a step, in order. */
  dispatchKernels(): KernelName[];
}
const internals = new WeakMap<Adafactor, InternalBuffers>();
/** @internal */
export function internalBuffers(optimizer: Adafactor): InternalBuffers {
  const found = internals.get(optimizer);
  if (!found) throw new Error('internal: not an Adafactor');
  return found;
}

export class Adafactor {
  /** The kernel variant the optimizer runs (see KERNEL_VARIANTS and the kernelVariant option). */
  readonly kernelVariant: KernelVariant;

  /** Steps recorded so far. */
  get stepCount(): number {
    return this.recordedSteps;
  }

  private recordedSteps = 0;

  /** Optimizer-wide options. */
  private readonly options: ResolvedOptions;
  /** Options of each parameter group (one when `params` is a plain list). */
  private readonly groupOptions: ResolvedOptions[];
  private readonly plan: Plan<GPUBuffer>;
  private params: AdafactorParam[];
  private readonly windows: PlannedWindow[][];
  private readonly windowUniforms: GPUBuffer[][];
  private readonly bindGroupLayout: GPUBindGroupLayout;
  private readonly pipelineFor: (kernel: KernelName, views: GroupViews) => GPUComputePipeline;
  private dispatches: Dispatch[];
  private readonly ownedBuffers: GPUBuffer[] = [];
  /** The state buffers, by the names StateEntry uses. */
  private readonly state: Record<StateEntry['buffer'], GPUBuffer>;
  private readonly scratch: GPUBuffer;
  private readonly table: GPUBuffer;
  /** Each group's options, and the step's scalars that each step copies in from `halfTable`. */
  private readonly settings: GPUBuffer;
  private readonly halfTable: GPUBuffer;
  private readonly statusReadback: GPUBuffer;
  /** Reads of statusReadback, one after the other (a buffer maps once at a time). */
  private statusRead: Promise<unknown> = Promise.resolve();
  /** The number of the first step recorded since construction or loadState, if any. */
  private firstRecordedStep: number | undefined;
  private readonly tensors: CheckedParam[];
  private readonly stateEntries: StateEntry[];
  private readonly savedOptions: string;
  private destroyed = false;
  private deviceLostReason: string | undefined;

  constructor(
    private readonly device: GPUDevice,
    paramsOrGroups: readonly AdafactorParam[] | readonly AdafactorParamGroup<AdafactorParam>[],
    options: AdafactorOptions = {},
  ) {
    if (!device || typeof device.createBuffer !== 'function') throw new Error('Adafactor: the first argument must be a GPUDevice');
    const groups = resolveGroups<AdafactorParam>(paramsOrGroups, options);
    const params = groups.tensors;
    if (params.length === 0) throw new Error('Adafactor: params holds no tensor; give at least one { param, grad, shape }');
    this.options = groups.base;
    this.groupOptions = groups.options;
    this.tensors = checkParams(params);
    const groupOverrides = paramsOrGroups.some((g) => 'params' in g) ? paramsOrGroups.map((g) => ({ ...g, params: undefined })) : [];
    this.savedOptions = JSON.stringify(groupOverrides.length > 0 ? { ...options, groups: groupOverrides } : options, (key, value) =>
      key === 'lr' && typeof value === 'function' ? 'function' : value,
    );
    const f16 = this.tensors.find((t) => t.paramDtype === 'f16' || t.gradDtype === 'f16');
    if (f16 && !device.features.has('shader-f16')) {
      throw new Error(`${f16.label}: f16 needs the device feature 'shader-f16'; request it with adapter.requestDevice({ requiredFeatures: ['shader-f16'] }) where the adapter has it, or use f32`);
    }
    checkSeparateGradients(params, this.tensors);
    this.params = [...params];
    const adapterInfo = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    this.kernelVariant = this.options.kernelVariant === 'auto' ? autoVariant(adapterInfo) : this.options.kernelVariant;
    const variant = KERNEL_VARIANTS[this.kernelVariant];
    checkGeometry(this.kernelVariant, variant);
    const tiles: TileGeometry = { ...SHADER.constants, ...variantTiles(variant) };
    const geometries = this.tensors.map((t, i) => {
      const o = this.groupOptions[groups.groupOf[i]];
      return withFactoringRule(t.geom, params[i].shape, o.factorDims, o.minDimSizeToFactor);
    });
    this.plan = planTensors(
      this.tensors.map((t, i) => ({
        geom: geometries[i],
        paramBuffer: params[i].param,
        gradBuffer: params[i].grad,
        paramOffset: t.paramOffset,
        gradOffset: t.gradOffset,
        paramElementBytes: dtypeBytes(t.paramDtype),
        gradElementBytes: dtypeBytes(t.gradDtype),
        settings: groups.groupOf[i],
        momentum: this.groupOptions[groups.groupOf[i]].beta1 !== undefined,
      })),
      tiles,
      !this.options.skipNonFinite,
    );
    this.stateEntries = stateEntries(this.plan, params, geometries);
    const bindingLimit = Math.min(device.limits.maxStorageBufferBindingSize, this.options.limits.maxBindingBytes ?? Infinity);
    const alignment = device.limits.minStorageBufferOffsetAlignment;
    const label = (input: number) => this.tensors[input].label;
    const windows = (this.windows = this.plan.groups.map((g) => planWindows(this.plan, g, bindingLimit, alignment, tiles, label)));
    for (const [what, length] of [['the factored state (R and C)', this.plan.factorStateLength], ['the scratch space', this.plan.scratchLength]] as const) {
      if (length * 4 > bindingLimit) throw new Error(`Adafactor: ${what} needs ${length * 4} bytes in one binding, more than the limit of ${bindingLimit}`);
    }

    void device.lost?.then((info) => {
      this.deviceLostReason = info.message || info.reason || 'unknown reason';
    });

    try {
      const { Tensor, GroupSettings } = SHADER.structs;
      const storage = (name: string, bytes: number, extra = 0) =>
        this.own(device.createBuffer({ label: `adafactor ${name}`, size: Math.max(16, align(bytes, 4)), usage: BufferUsage.STORAGE | extra }));
      const keep = BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

      const table = storage('tensors', this.plan.tensors.length * Tensor.size, BufferUsage.COPY_DST);
      const tableData = new DataView(new ArrayBuffer(table.size));
      this.plan.tensors.forEach((t, i) => Tensor.write(tableData, i * Tensor.size, t.fields));
      device.queue.writeBuffer(table, 0, tableData.buffer);

      this.settings = storage('settings', GroupSettings.size * this.groupOptions.length, BufferUsage.COPY_DST);
      device.queue.writeBuffer(this.settings, 0, this.settingsData());
      this.halfTable = this.own(createHalfTable(device));
      const factorState = storage('factored state', this.plan.factorStateLength * 4, keep);
      const fullState = storage('full state', this.plan.fullStateLength * 4, keep);
      const momentum = storage('momentum', this.plan.momentumLength * 4, keep);
      this.state = { factorState, fullState, momentum };
      this.scratch = storage('scratch', this.plan.scratchLength * 4, keep);
      this.statusReadback = this.own(device.createBuffer({ label: 'adafactor status readback', size: this.statusAndScalarsBytes(), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }));

      this.table = table;
      this.bindGroupLayout = device.createBindGroupLayout({ label: 'adafactor', entries: bindGroupLayoutEntries() });
      this.pipelineFor = pipelineFactory(device, this.bindGroupLayout, this.kernelVariant, pipelineFeatures(this.groupOptions));
      this.windowUniforms = this.plan.groups.map((g, i) => windows[i].map((w, k) => this.windowUniform(g, i, w, k)));
      const views = this.plan.groups.map((g, i) => chooseViews(g, this.groupTensors(g), windows[i]));
      this.dispatches = this.makeDispatches(this.plan.groups, views);
      const setStepCount = (count: number) => {
        this.recordedSteps = count;
      };
      const recordProfiled = (encoder: GPUCommandEncoder, pass: (kernel: KernelName, index: number) => GPUComputePassDescriptor) => this.record(encoder, pass);
      const dispatchKernels = () => this.dispatches.map((d) => d.kernel);
      internals.set(this, { factorState, fullState, momentum, scratch: this.scratch, plan: this.plan, views, stateEntries: this.stateEntries, setStepCount, recordProfiled, dispatchKernels });
    } catch (error) {
      // A refused optimizer leaves no GPU memory behind.
      for (const b of this.ownedBuffers) b.destroy();
      throw error;
    }
  }

  /**
   * Points the optimizer at other buffers for its tensors and keeps its state: for engines that
   * reallocate parameters or gradients (TensorFlow.js hands out new gradient buffers every step).
   * `buffers[i]` replaces tensor i's `param` and/or `grad`; shapes, offsets and dtypes stay, and
   * tensors that shared a buffer must still share one (and no others). Checks everything before
   * changing anything; remakes only bind groups. Steps recorded earlier keep their buffers.
   */
  rebind(buffers: readonly { param?: GPUBuffer; grad?: GPUBuffer }[]): void {
    this.checkUsable('rebind()');
    if (!Array.isArray(buffers) || buffers.length !== this.params.length) {
      throw new Error(`Adafactor.rebind: needs one entry per tensor (${this.params.length}), got ${Array.isArray(buffers) ? buffers.length : String(buffers)}`);
    }
    buffers.forEach((b, i) => {
      if (typeof b !== 'object' || b === null) throw new Error(`Adafactor.rebind: entry ${i} is ${String(b)}, not { param?, grad? }`);
      const unknown = Object.keys(b).find((key) => key !== 'param' && key !== 'grad');
      if (unknown !== undefined) throw new Error(`Adafactor.rebind: entry ${i} has the unknown key '${unknown}'; it takes param and grad`);
    });
    const params = this.params.map((p, i) => ({ ...p, param: buffers[i].param ?? p.param, grad: buffers[i].grad ?? p.grad }));
    const checked = checkParams(params, 'Adafactor.rebind');
    checkSeparateGradients(params, checked);
    const groups = this.plan.groups.map((g) => {
      const members = this.groupTensors(g).map((t) => t.input);
      const first = params[members[0]];
      for (const input of members) {
        if (params[input].param !== first.param || params[input].grad !== first.grad) {
          throw new Error(`Adafactor.rebind: ${tensorLabel(params[input], input)} shared its buffers with ${tensorLabel(first, members[0])} and no longer does; make a new optimizer for a new layout`);
        }
      }
      return { ...g, paramBuffer: first.param, gradBuffer: first.grad };
    });
    const pairs = new Map<GPUBuffer, Set<GPUBuffer>>();
    for (const g of groups) {
      const grads = pairs.get(g.paramBuffer) ?? new Set();
      if (grads.has(g.gradBuffer)) throw new Error('Adafactor.rebind: tensors that had buffers of their own would now share them; make a new optimizer for a new layout');
      pairs.set(g.paramBuffer, grads.add(g.gradBuffer));
    }
    const views = groups.map((g, i) => chooseViews(g, this.groupTensors(g), this.windows[i]));
    this.dispatches = this.makeDispatches(groups, views);
    groups.forEach((g, i) => Object.assign(this.plan.groups[i], { paramBuffer: g.paramBuffer, gradBuffer: g.gradBuffer }));
    internalBuffers(this).views = views;
    this.params = params;
  }

  private groupTensors(g: PlannedGroup<GPUBuffer>): PlannedTensor[] {
    return this.plan.tensors.slice(g.firstTensor, g.firstTensor + g.tensorCount);
  }

  /** The dispatches of a step over the given groups' buffers, with a bind group per window. */
  private makeDispatches(groups: readonly PlannedGroup<GPUBuffer>[], views: readonly GroupViews[]): Dispatch[] {
    const windowGroups = groups.map((g, i) => this.windows[i].map((w, k) => ({ ...w, bindGroup: this.windowBindGroup(g, i, w, k, views[i]) })));
    return stepDispatches(groups, windowGroups, views, this.pipelineFor, this.options.skipNonFinite);
  }

  /** The uniform of one window of a group (a group's first window also serves its group-wide passes). */
  private windowUniform(g: PlannedGroup<GPUBuffer>, groupIndex: number, w: PlannedWindow, windowIndex: number): GPUBuffer {
    const { Window } = SHADER.structs;
    const uniform = this.own(this.device.createBuffer({ label: `adafactor window ${groupIndex}.${windowIndex}`, size: align(Window.size, 16), usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST }));
    const data = new DataView(new ArrayBuffer(uniform.size));
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
      momentumBase: (w.momentum?.offset ?? 0) / 4,
      totalTensors: this.plan.tensors.length,
    });
    this.device.queue.writeBuffer(uniform, 0, data.buffer);
    return uniform;
  }

  /** The bind group of one window of a group, over the group's current buffers. */
  private windowBindGroup(g: PlannedGroup<GPUBuffer>, groupIndex: number, w: PlannedWindow, windowIndex: number, views: GroupViews): GPUBindGroup {
    const resources: Record<string, GPUBufferBinding> = {
      param: windowed(g.paramBuffer, viewRange(g.paramBuffer, w.param, views.param)),
      grad: windowed(g.gradBuffer, viewRange(g.gradBuffer, w.grad, views.grad)),
      tensors: { buffer: this.table },
      settings: { buffer: this.settings },
      factorState: { buffer: this.state.factorState },
      fullState: windowed(this.state.fullState, w.fullState),
      momentum: windowed(this.state.momentum, w.momentum),
      scratch: { buffer: this.scratch },
      window: { buffer: this.windowUniforms[groupIndex][windowIndex] },
    };
    return this.device.createBindGroup({
      label: `adafactor window ${groupIndex}.${windowIndex}`,
      layout: this.bindGroupLayout,
      entries: SHADER.bindings.map((b) => {
        const resource = resources[b.name];
        if (!resource) throw new Error(`internal: no resource for binding '${b.name}'`);
        return { binding: b.binding, resource };
      }),
    });
  }

  /** Bytes of GPU memory the optimizer state occupies: R and C per factored tensor, V per other tensor, and M with beta1. */
  get stateBytes(): number {
    return 4 * (this.plan.factorStateLength + this.plan.fullStateLength + this.plan.momentumLength);
  }

  /** Bytes of GPU memory the optimizer uses besides the state: scratch (tile partial sums) and tables. */
  get workspaceBytes(): number {
    const state = Object.values(this.state).reduce((sum, b) => sum + b.size, 0);
    return this.ownedBuffers.reduce((sum, b) => sum + b.size, 0) - state;
  }

  /** Compute dispatches one step records. */
  get dispatchesPerStep(): number {
    return this.dispatches.length;
  }

  /**
   * Records one step. With an encoder the caller submits it (steps recorded into one or several
   * encoders run one after the other in the order they are submitted, each with its own t);
   * without, the step is submitted at once. Nothing is read back.
   */
  step(encoder?: GPUCommandEncoder): void {
    this.record(encoder);
  }

  /** Records one step: in one compute pass, or with `passFor` each dispatch in a pass of its own. */
  private record(encoder: GPUCommandEncoder | undefined, passFor?: (kernel: KernelName, index: number) => GPUComputePassDescriptor): void {
    this.checkUsable();
    if (this.stepCount >= Number.MAX_SAFE_INTEGER) throw new Error(`Adafactor: the step count ${this.stepCount} cannot grow past 2^53 - 1`);
    const step = this.stepCount + 1;
    const scalars = this.stepScalars(step); // computes every lr(t) first: a bad learning rate throws before anything is recorded
    const commands = encoder ?? this.device.createCommandEncoder({ label: 'adafactor step' });
    const { GroupSettings } = SHADER.structs;
    scalars.forEach((halves, g) => recordHalves(commands, this.halfTable, halves, this.settings, g * GroupSettings.size + GroupSettings.offsetOf('beta2Low')));
    recordHalves(commands, this.halfTable, stepHalves(step), this.scratch, SHADER.constants.STATUS_STEP * 4);
    const maxPerDimension = Math.min(this.device.limits.maxComputeWorkgroupsPerDimension, this.options.limits.maxWorkgroupsPerDimension ?? Infinity);
    const pass = passFor ? undefined : commands.beginComputePass({ label: `adafactor step ${step}` });
    this.dispatches.forEach((d, i) => {
      const own = passFor ? commands.beginComputePass(passFor(d.kernel, i)) : pass!;
      own.setPipeline(d.pipeline);
      own.setBindGroup(0, d.bindGroup);
      own.dispatchWorkgroups(...dispatchGrid(d.workgroups, maxPerDimension));
      if (passFor) own.end();
    });
    pass?.end();
    if (!encoder) this.device.queue.submit([commands.finish()]);
    this.recordedSteps = step;
    this.firstRecordedStep ??= step;
  }

  /**
   * rho_t of step t for each parameter group, computed on the host: min(1e-2, 1/sqrt(t)) (with
   * warmupInit min(1e-6 t, 1/sqrt(t))), or lr(t) without relativeStep. t defaults to the last
   * step recorded (1 before any). A tensor moves by alpha_t = rho_t * max(eps2, RMS(X_{t-1})):
   * see stats().
   */
  learningRate(step = Math.max(1, this.stepCount)): number[] {
    if (!Number.isSafeInteger(step) || step < 1) throw new Error(`Adafactor.learningRate: step must be an integer >= 1, got ${String(step)}`);
    return this.groupOptions.map((o, g) => stepSize(o, step, this.groupWhere('Adafactor.learningRate', g)));
  }

  /**
   * What the last step that ran did to each tensor that has elements, in the order given:
   * RMS(X_{t-1}), the step size alpha_t, RMS(U) before clipping and the clip divisor
   * max(1, RMS(U) / clipThreshold); with that step's number t, and whether skipNonFinite skipped
   * it. Read back in one copy, after the steps submitted so far, only when asked: a step never
   * reads anything back. No tensors until a step recorded since construction or loadState has run.
   */
  async stats(): Promise<AdafactorStats> {
    this.checkUsable('stats()');
    const words = await this.readStatusWords(this.statusAndScalarsBytes());
    const { step } = readStatus(words);
    const floats = new Float32Array(words);
    const ran = this.firstRecordedStep !== undefined && step >= this.firstRecordedStep;
    const tensors = !ran
      ? []
      : [...this.plan.tensors]
          .sort((a, b) => a.input - b.input)
          .map(({ input, fields }) => {
            const at = fields.tensorScalars;
            return { name: tensorName(this.params[input], input), paramRms: floats[at + 3], stepSize: floats[at + 4], updateRms: floats[at + 5], clipDivisor: floats[at + 6] };
          });
    return { step, skipped: ran && floats[SHADER.constants.STATUS_SKIP] !== 0, tensors };
  }

  /**
   * Steps skipped so far because of non-finite gradients (with `skipNonFinite`). Reads back one
   * number, after the steps submitted so far.
   */
  async skippedSteps(): Promise<number> {
    this.checkUsable('skippedSteps()');
    return readStatus(await this.readStatusWords(statusBytes())).skippedSteps;
  }

  /** The first `bytes` of scratch (the status words, then the tensors' scalars), read back after the steps submitted so far. */
  private readStatusWords(bytes: number): Promise<ArrayBuffer> {
    const read = this.statusRead.then(async () => {
      const encoder = this.device.createCommandEncoder({ label: 'adafactor status' });
      encoder.copyBufferToBuffer(this.scratch, 0, this.statusReadback, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await this.statusReadback.mapAsync(0x1 /* GPUMapMode.READ */, 0, bytes);
      const words = this.statusReadback.getMappedRange(0, bytes).slice(0);
      this.statusReadback.unmap();
      return words;
    });
    this.statusRead = read.catch(() => undefined);
    return read;
  }

  /** Bytes of the status words and every tensor's scalars at the start of scratch. */
  private statusAndScalarsBytes(): number {
    return statusBytes() + 4 * SHADER.constants.TENSOR_SCALARS * this.plan.tensors.length;
  }

  /**
   * The optimizer state as a safetensors file: every state tensor under Hugging Face's names
   * (`<name>.exp_avg_sq_row`, `.exp_avg_sq_col`, `.exp_avg_sq`, `.exp_avg`; `<name>` is the
   * tensor's name, else its index) and, in `__metadata__`, the step count, the skipped steps and
   * the options. One snapshot, taken by commands submitted during the call: the state, step and
   * skipped steps after the last step submitted before it (steps recorded later, or recorded
   * into an encoder not yet submitted, are not in it, and its step count says so).
   */
  async saveState(): Promise<Uint8Array> {
    this.checkUsable('saveState()');
    // The status words, then each state buffer, copied into one staging buffer by one submit.
    let end = statusBytes();
    const placed = STATE_BUFFERS.map((name) => {
      const start = end;
      end += this.state[name].size;
      return { name, start, size: this.state[name].size };
    });
    const staging = this.device.createBuffer({ label: 'adafactor save', size: end, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder({ label: 'adafactor save' });
    encoder.copyBufferToBuffer(this.scratch, 0, staging, 0, statusBytes());
    for (const p of placed) encoder.copyBufferToBuffer(this.state[p.name], 0, staging, p.start, p.size);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(0x1 /* GPUMapMode.READ */);
      const bytes = staging.getMappedRange().slice(0);
      const values = Object.fromEntries(placed.map((p) => [p.name, new Float32Array(bytes, p.start, p.size / 4)])) as Record<StateBuffer, Float32Array<ArrayBuffer>>;
      return encodeCheckpoint(this.stateEntries, { values, ...readStatus(bytes.slice(0, statusBytes())) }, this.savedOptions);
    } finally {
      staging.destroy();
    }
  }

  /**
   * Restores a state saved by `saveState()` from an optimizer over the same tensors (names,
   * shapes) and continues from its step count. Checks the whole file first (the safetensors
   * rules, format, counts, names, dtypes, shapes, and values no step produces: NaN, infinities,
   * negative second moments) and throws, naming the first problem, with nothing changed.
   */
  loadState(bytes: Uint8Array): void {
    this.checkUsable('loadState()');
    const lengths = Object.fromEntries(STATE_BUFFERS.map((b) => [b, this.state[b].size / 4])) as Record<StateBuffer, number>;
    const checkpoint = decodeCheckpoint(bytes, this.stateEntries, lengths, 'Adafactor.loadState');
    for (const b of STATE_BUFFERS) this.device.queue.writeBuffer(this.state[b], 0, checkpoint.values[b]);
    this.device.queue.writeBuffer(this.scratch, 0, statusWords(checkpoint.step, checkpoint.skippedSteps));
    this.recordedSteps = checkpoint.step;
    this.firstRecordedStep = undefined;
  }

  /** Frees the optimizer's GPU buffers; the optimizer cannot step afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.ownedBuffers) b.destroy();
  }

  /** Every group's options, as the settings buffer holds them before any step's scalars are copied in. */
  private settingsData(): ArrayBuffer {
    const { GroupSettings } = SHADER.structs;
    const data = new DataView(new ArrayBuffer(GroupSettings.size * this.groupOptions.length));
    const stepScalars = { beta2Low: 0, beta2High: 0, oneMinusBeta2Low: 0, oneMinusBeta2High: 0, rhoLow: 0, rhoHigh: 0, roundingSeedLow: 0, roundingSeedHigh: 0 };
    this.groupOptions.forEach((o, g) => {
      GroupSettings.write(data, g * GroupSettings.size, {
        eps1: o.eps1,
        eps2: o.eps2,
        clipThreshold: o.clipThreshold,
        beta1: o.beta1 ?? 0,
        weightDecay: o.weightDecay,
        scaleParameter: o.scaleParameter ? 1 : 0,
        skipNonFinite: this.options.skipNonFinite ? 1 : 0,
        weightDecayScaled: o.weightDecayScale === 'alpha' ? 1 : 0,
        epsFloor: o.eps1Mode === 'floor' ? 1 : 0,
        ...stepScalars,
      });
    });
    return data.buffer;
  }

  /**
   * The scalars of step `step` for each group, as the 16-bit halves of the GroupSettings words
   * from beta2Low to roundingSeedHigh; computes (and checks) every lr(t) before returning any.
   */
  private stepScalars(step: number): number[][] {
    return this.groupOptions.map((o, g) => {
      const rho = stepSize(o, step, this.groupWhere('Adafactor', g));
      // Any seed but the 'off' value works; the step keeps the seeds of a run the same each run.
      const seed = o.stochasticRounding ? step % SHADER.constants.NO_STOCHASTIC_ROUNDING : SHADER.constants.NO_STOCHASTIC_ROUNDING;
      return [f32Bits(beta2(o, step)), f32Bits(oneMinusBeta2(o, step)), f32Bits(rho), seed].flatMap(wordHalves);
    });
  }

  /** Where an error of group g's options happened: the group is named when there are several. */
  private groupWhere(where: string, g: number): string {
    return this.groupOptions.length > 1 ? `${where}: parameter group ${g}` : where;
  }

  private checkUsable(what = 'step()'): void {
    if (this.destroyed) throw new Error(`Adafactor: ${what} after destroy(); make a new optimizer`);
    if (this.deviceLostReason !== undefined) throw new Error(`Adafactor: ${what} after the GPUDevice was lost (${this.deviceLostReason}); make a new device and optimizer`);
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.ownedBuffers.push(buffer);
    return buffer;
  }
}

/** A step reads a gradient while it writes its parameter: the two may not share a buffer. */
function checkSeparateGradients(params: readonly AdafactorParam[], checked: readonly CheckedParam[]): void {
  params.forEach((p, i) => {
    if (p.param === p.grad && !checked[i].empty) {
      throw new Error(`${checked[i].label}: param and grad are the same GPUBuffer; give gradients a buffer of their own`);
    }
  });
}

/** A buffer range as a binding; a range a window does not touch binds the buffer's first bytes. */
function windowed(buffer: GPUBuffer, range: BindingRange | undefined): GPUBufferBinding {
  return range ? { buffer, offset: range.offset, size: range.size } : { buffer, offset: 0, size: Math.min(buffer.size, 16) };
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
  if (!widened) throw new Error(`Adafactor: a ${buffer.size}-byte buffer ends inside a 4-byte word that an f16 tensor uses; make its size a multiple of 4`);
  return widened;
}

/**
 * f16 tensors bind f16; f32 ones bind quads when every binding of the group can be widened to a
 * multiple of 16 bytes without passing the end of its buffer (quads with no per-element test when
 * every tensor's quads are whole and aligned), single floats otherwise.
 */
function chooseViews(g: PlannedGroup<GPUBuffer>, members: readonly PlannedTensor[], windows: readonly PlannedWindow[]): GroupViews {
  const view = (buffer: GPUBuffer, elementBytes: number, ranges: (BindingRange | undefined)[], aligned: boolean): ViewName => {
    if (elementBytes === 2) return 'f16';
    if (!ranges.every((r) => widenedRange(buffer, r, 16))) return 'f32';
    return aligned ? 'quads' : 'f32x4';
  };
  return {
    param: view(g.paramBuffer, g.paramElementBytes, windows.map((w) => w.param), members.every((t) => t.paramQuads)),
    grad: view(g.gradBuffer, g.gradElementBytes, windows.map((w) => w.grad), members.every((t) => t.gradQuads)),
  };
}

/** The shaders' override constants (1: true, 0: false): which options some parameter group uses (see common.wgsl). */
interface PipelineFeatures {
  USES_MOMENTUM: number;
  USES_EPS_FLOOR: number;
}

function pipelineFeatures(groups: readonly ResolvedOptions[]): PipelineFeatures {
  return { USES_MOMENTUM: Number(groups.some((o) => o.beta1 !== undefined)), USES_EPS_FLOOR: Number(groups.some((o) => o.eps1Mode === 'floor')) };
}

/** Makes each shader module (per views) and each pipeline (per kernel and views) once, on first use. */
function pipelineFactory(device: GPUDevice, layout: GPUBindGroupLayout, variant: KernelVariant, features: PipelineFeatures): (kernel: KernelName, views: GroupViews) => GPUComputePipeline {
  const pipelineLayout = device.createPipelineLayout({ label: 'adafactor', bindGroupLayouts: [layout] });
  const modules = new Map<string, GPUShaderModule>();
  const made = new Map<string, GPUComputePipeline>();
  return (kernel, views) => {
    const viewKey = `${views.param} ${views.grad}`;
    const key = `${kernel} ${viewKey}`;
    let found = made.get(key);
    if (!found) {
      let module = modules.get(viewKey);
      if (!module) {
        module = device.createShaderModule({ label: `adafactor ${variant} ${viewKey}`, code: moduleSource(views.param, views.grad, variant) });
        modules.set(viewKey, module);
      }
      found = device.createComputePipeline({ label: `adafactor ${key}`, layout: pipelineLayout, compute: { module, entryPoint: kernel, constants: { ...features } } });
      made.set(key, found);
    }
    return found;
  };
}

/**
 * The dispatches of one step, in order: each kernel over every group before the next kernel;
 * per window for the tile passes (update_norm over factored tiles only), once per group for the
 * group passes (through the group's first window), once in all for decide_skip.
 */
function stepDispatches(
  groups: readonly PlannedGroup<GPUBuffer>[],
  windowGroups: readonly (readonly (PlannedWindow & { bindGroup: GPUBindGroup })[])[],
  views: readonly GroupViews[],
  pipelineFor: (kernel: KernelName, views: GroupViews) => GPUComputePipeline,
  skipNonFinite: boolean,
): Dispatch[] {
  const dispatches: Dispatch[] = [];
  const add = (kernel: KernelName, groupIndex: number, bindGroup: GPUBindGroup, workgroups: number) => {
    if (workgroups > 0) dispatches.push({ kernel, pipeline: pipelineFor(kernel, views[groupIndex]), bindGroup, workgroups });
  };
  for (const kernel of KERNEL_ORDER) {
    const scope = KERNEL_SCOPE[kernel];
    if (scope === 'optimizer') {
      if (skipNonFinite && windowGroups.length > 0) add(kernel, 0, windowGroups[0][0].bindGroup, 1);
      continue;
    }
    groups.forEach((g, groupIndex) => {
      const windows = windowGroups[groupIndex];
      if (scope === 'group') add(kernel, groupIndex, windows[0].bindGroup, groupWorkgroups(kernel, g));
      else for (const w of windows) add(kernel, groupIndex, w.bindGroup, windowWorkgroups(kernel, w));
    });
  }
  return dispatches;
}

/** Workgroups of a group kernel: a line block each (finalize_stats), else a tensor each, of those the passes take. */
function groupWorkgroups(kernel: KernelName, g: PlannedGroup<GPUBuffer>): number {
  if (kernel === 'finalizeStats') return g.lineBlockCount;
  if (kernel === 'meanRows') return g.factoredTensorCount;
  return g.tensorCount - g.wholeTensorCount;
}

/** Workgroups of a tile kernel over one window: the passes take its tiles but those of small tensors, whole_tensor those. */
function windowWorkgroups(kernel: KernelName, w: PlannedWindow): number {
  if (kernel === 'wholeTensor') return w.wholeTensorCount;
  if (kernel === 'updateNorm') return w.factoredTileCount;
  return w.tileCount - w.wholeTensorCount;
}

/** A 1-D count as an (x, y) grid within the per-dimension limit; shaders flatten it back. */
export function dispatchGrid(count: number, maxPerDimension: number): [number, number] {
  const x = Math.min(count, maxPerDimension);
  return [x, Math.ceil(count / x)];
}

function align(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Bytes of the status words at the start of scratch (see common.wgsl). */
function statusBytes(): number {
  return SHADER.constants.STATUS_WORDS * 4;
}
