/**
 * The engine: everything an Adafactor step needs on the GPU, made once at construction (the
 * tensor table, the state and scratch buffers, pipelines, a bind group per window), and the
 * recording of a step as the step program's dispatches (program.ts). `Adafactor` (src/adafactor.ts)
 * is the public facade over one engine; the tfjs entry, the benchmark and the tests use the
 * engine directly where they need what the facade does not show: the state buffers, the program
 * and its dispatches, the views. Not part of the public API (docs/internals.md).
 */
import { type AdafactorParamGroup, resolveGroups } from '../core/groups.js';
import type { AdafactorOptions, KernelVariant, ResolvedOptions } from '../core/options.js';
import { stepSize } from '../core/schedules.js';
import { type Geometry, withFactoringRule } from '../core/shape.js';
import type { AdafactorStats } from '../core/stats.js';
import { dtypeSize } from '../core/half.js';
import {
  type GroupViews,
  type SharedBuffers,
  align,
  chooseViews,
  windowBindGroup,
  windowUniformData,
} from './bindings.js';
import { SHADER, bindGroupLayoutEntries } from './interface.js';
import { KERNEL_VARIANTS, type KernelName, autoVariant, checkGeometry, tileGeometry } from './kernels.js';
import {
  type AdafactorParam,
  type CheckedParam,
  checkParams,
  checkSeparateGradients,
  dtypeBytes,
  tensorName,
} from './params.js';
import { pipelineFactory } from './pipelines.js';
import { type Plan, type PlannedGroup, type PlannedTensor, planTensors } from './plan.js';
import { type Dispatch, programDispatches, recordDispatches } from './program.js';
import {
  ScratchReader,
  readStatus,
  readStepStats,
  scratchReadback,
  statusAndScalarsBytes,
  statusBytes,
  statusWords,
} from './status.js';
import { groupWhere, settingsData, stepScalarHalves } from './settings.js';
import { createHalfTable, recordHalves, stepHalves } from './step_scalars.js';
import { BufferUsage } from './usage.js';
import { type PlannedWindow, planWindows } from './windows.js';
import {
  STATE_BUFFERS,
  type StateBuffer,
  type StateValues,
  encodeStateBuffer,
  readStateValues,
} from './state_buffers.js';

export class AdafactorEngine {
  readonly kernelVariant: KernelVariant;
  /** The optimizer-wide options, and each parameter group's. */
  readonly options: ResolvedOptions;
  readonly groupOptions: readonly ResolvedOptions[];
  readonly plan: Plan<GPUBuffer>;
  /** Each tensor's geometry under its group's factoring rule, in the caller's order. */
  readonly geometries: readonly Geometry[];
  readonly tensors: readonly CheckedParam[];
  readonly state: Readonly<Record<StateBuffer, GPUBuffer>>;
  /** The status words, every tensor's TensorScalars, and each step's temporaries (see interface.wgsl). */
  readonly scratch: GPUBuffer;
  /** The tensors as given (their current buffers, after rebind). */
  params: readonly AdafactorParam[];
  /** How each group binds its parameters and gradients. */
  views: GroupViews[];
  /** The dispatches of one step, in the step program's order. */
  dispatches: Dispatch[];

  private readonly windows: PlannedWindow[][];
  private readonly windowUniforms: GPUBuffer[][];
  private readonly ownedBuffers: GPUBuffer[] = [];
  private readonly table: GPUBuffer;
  /** Each group's options, and the step's scalars that each step copies in from `halfTable`. */
  private readonly settings: GPUBuffer;
  private readonly halfTable: GPUBuffer;
  private readonly statusReader: ScratchReader;
  private readonly bindGroupLayout: GPUBindGroupLayout;
  private readonly pipelineFor: (kernel: KernelName, views: GroupViews) => GPUComputePipeline;
  /** The number of the first step recorded since construction or writeState, if any. */
  private firstRecordedStep: number | undefined;

  constructor(
    readonly device: GPUDevice,
    paramsOrGroups: readonly AdafactorParam[] | readonly AdafactorParamGroup<AdafactorParam>[],
    options: AdafactorOptions = {},
  ) {
    if (!device || typeof device.createBuffer !== 'function')
      throw new Error('Adafactor: the first argument must be a GPUDevice');
    const groups = resolveGroups<AdafactorParam>(paramsOrGroups, options);
    const params = groups.tensors;
    if (params.length === 0)
      throw new Error('Adafactor: params holds no tensor; give at least one { param, grad, shape }');
    this.options = groups.base;
    this.groupOptions = groups.options;
    this.tensors = checkParams(params);
    const f16 = this.tensors.find((t) => t.paramDtype === 'f16' || t.gradDtype === 'f16');
    if (f16 && !device.features.has('shader-f16')) {
      throw new Error(
        `${f16.label}: f16 needs the device feature 'shader-f16'; request it with adapter.requestDevice({ requiredFeatures: ['shader-f16'] }) where the adapter has it, or use f32`,
      );
    }
    checkSeparateGradients(params, this.tensors);
    this.params = [...params];
    const adapterInfo = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    this.kernelVariant = this.options.kernelVariant === 'auto' ? autoVariant(adapterInfo) : this.options.kernelVariant;
    checkGeometry(this.kernelVariant, KERNEL_VARIANTS[this.kernelVariant]);
    const tiles = tileGeometry(this.kernelVariant);
    this.geometries = this.tensors.map((t, i) => {
      const o = this.groupOptions[groups.groupOf[i]];
      return withFactoringRule(t.geom, params[i].shape, o.factorDims, o.minDimSizeToFactor, t.label);
    });
    this.plan = planTensors(
      this.tensors.map((t, i) => ({
        geom: this.geometries[i],
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
      // Small tensors are stepped whole by one workgroup, unless a step needs every tensor's
      // statistics before any applies (skipNonFinite), a pass between them (caution), or every
      // gradient's norm first (maxGradNorm).
      !this.options.skipNonFinite && !this.usesCaution && this.options.maxGradNorm === undefined,
      dtypeSize(this.options.momentumDtype),
    );
    const bindingLimit = Math.min(
      device.limits.maxStorageBufferBindingSize,
      this.options.limits.maxBindingBytes ?? Infinity,
    );
    const alignment = device.limits.minStorageBufferOffsetAlignment;
    const label = (input: number) => this.tensors[input].label;
    const windows = (this.windows = this.plan.groups.map((g) =>
      planWindows(this.plan, g, bindingLimit, alignment, tiles, label),
    ));
    for (const [what, length] of [
      ['the factored state (R and C)', this.plan.factorStateLength],
      ['the scratch space', this.plan.scratchLength],
    ] as const) {
      if (length * 4 > bindingLimit)
        throw new Error(
          `Adafactor: ${what} needs ${length * 4} bytes in one binding, more than the limit of ${bindingLimit}`,
        );
    }

    try {
      const storage = (name: string, bytes: number, extra = 0) =>
        this.own(
          device.createBuffer({
            label: `adafactor ${name}`,
            size: Math.max(16, align(bytes, 4)),
            usage: BufferUsage.STORAGE | extra,
          }),
        );
      const keep = BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
      const { Tensor, GroupSettings } = SHADER.structs;

      this.table = storage('tensors', this.plan.tensors.length * Tensor.size, BufferUsage.COPY_DST);
      const tableData = new DataView(new ArrayBuffer(this.table.size));
      this.plan.tensors.forEach((t, i) => Tensor.write(tableData, i * Tensor.size, t.fields));
      device.queue.writeBuffer(this.table, 0, tableData.buffer);

      this.settings = storage('settings', GroupSettings.size * this.groupOptions.length, BufferUsage.COPY_DST);
      device.queue.writeBuffer(this.settings, 0, settingsData(this.groupOptions, this.options.skipNonFinite));
      this.halfTable = this.own(createHalfTable(device));
      this.state = {
        factorState: storage('factored state', this.plan.factorStateLength * 4, keep),
        fullState: storage('full state', this.plan.fullStateLength * 4, keep),
        momentum: storage('momentum', this.plan.momentumLength * this.plan.momentumElementBytes, keep),
      };
      this.scratch = storage('scratch', this.plan.scratchLength * 4, keep);
      this.statusReader = new ScratchReader(
        device,
        this.scratch,
        this.own(scratchReadback(device, this.plan.tensors.length)),
      );

      this.bindGroupLayout = device.createBindGroupLayout({ label: 'adafactor', entries: bindGroupLayoutEntries() });
      this.pipelineFor = pipelineFactory(
        device,
        this.bindGroupLayout,
        this.kernelVariant,
        this.groupOptions,
        this.options.momentumDtype,
      );
      this.windowUniforms = this.plan.groups.map((g, i) =>
        windows[i].map((w, k) => {
          const data = windowUniformData(g, w, this.plan.tensors.length, this.plan.momentumElementBytes);
          const uniform = this.own(
            device.createBuffer({
              label: `adafactor window ${i}.${k}`,
              size: data.byteLength,
              usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
            }),
          );
          device.queue.writeBuffer(uniform, 0, data);
          return uniform;
        }),
      );
      this.views = this.plan.groups.map((g, i) => chooseViews(g, this.groupTensors(g), windows[i]));
      this.dispatches = this.makeDispatches(this.plan.groups, this.views);
    } catch (error) {
      // A refused optimizer leaves no GPU memory behind.
      this.destroy();
      throw error;
    }
  }

  /**
   * Bytes of GPU memory the optimizer state occupies: R and C per factored tensor, V per other
   * tensor, and M with beta1 (4 or 2 bytes an element, by momentumDtype; 16-bit M pads each
   * tensor to whole u32 words).
   */
  get stateBytes(): number {
    const { factorStateLength, fullStateLength, momentumLength, momentumElementBytes } = this.plan;
    return 4 * (factorStateLength + fullStateLength) + momentumElementBytes * momentumLength;
  }

  /** Bytes of GPU memory the optimizer uses besides the state: scratch (tile partial sums) and tables. */
  get workspaceBytes(): number {
    const state = Object.values(this.state).reduce((sum, b) => sum + b.size, 0);
    return this.ownedBuffers.reduce((sum, b) => sum + b.size, 0) - state;
  }

  /** The caller's indices of each group's tensors, in table order. */
  groupMembers(): { members: number[] }[] {
    return this.plan.groups.map((g) => ({ members: this.groupTensors(g).map((t) => t.input) }));
  }

  /**
   * Binds other buffers: `params` are the tensors with their new buffers, and `groupBuffers` each
   * group's new pair (both checked by the caller: see rebindParams). Remakes only bind groups.
   */
  rebind(
    params: readonly AdafactorParam[],
    groupBuffers: readonly { paramBuffer: GPUBuffer; gradBuffer: GPUBuffer }[],
  ): void {
    const groups = this.plan.groups.map((g, i) => ({ ...g, ...groupBuffers[i] }));
    const views = groups.map((g, i) => chooseViews(g, this.groupTensors(g), this.windows[i]));
    this.dispatches = this.makeDispatches(groups, views);
    this.plan.groups.forEach((g, i) => Object.assign(g, groupBuffers[i]));
    this.views = views;
    this.params = [...params];
  }

  /**
   * Records step `step` (t) into `encoder`, or into an encoder of its own that it submits: first
   * the commands that copy the step's scalars into place, then its dispatches, in one compute
   * pass, or with `passFor` each in a pass of its own (for profiling). Every lr(t) is computed
   * before anything is made or recorded: a bad learning rate throws first.
   */
  record(
    encoder: GPUCommandEncoder | undefined,
    step: number,
    passFor?: (kernel: KernelName, index: number) => GPUComputePassDescriptor,
  ): void {
    const scalars = stepScalarHalves(this.groupOptions, step);
    const commands = encoder ?? this.device.createCommandEncoder({ label: 'adafactor step' });
    const { GroupSettings } = SHADER.structs;
    scalars.forEach((halves, g) =>
      recordHalves(
        commands,
        this.halfTable,
        halves,
        this.settings,
        g * GroupSettings.size + GroupSettings.offsetOf('beta2Low'),
      ),
    );
    recordHalves(commands, this.halfTable, stepHalves(step), this.scratch, SHADER.constants.STATUS_STEP * 4);
    const maxPerDimension = Math.min(
      this.device.limits.maxComputeWorkgroupsPerDimension,
      this.options.limits.maxWorkgroupsPerDimension ?? Infinity,
    );
    recordDispatches(commands, this.dispatches, maxPerDimension, `adafactor step ${step}`, passFor);
    if (!encoder) this.device.queue.submit([commands.finish()]);
    this.firstRecordedStep ??= step;
  }

  /**
   * rho_t of step t for each parameter group, computed on the host (lr(t) without relativeStep).
   * `where` names the caller in errors.
   */
  learningRates(step: number, where: string): number[] {
    return this.groupOptions.map((o, g) => stepSize(o, step, groupWhere(where, g, this.groupOptions.length)));
  }

  /**
   * What the last step that ran did to each tensor with elements, in the caller's order, read back
   * in one copy after the steps submitted so far; no tensors until a step recorded since
   * construction or writeState has run.
   */
  async stats(): Promise<AdafactorStats> {
    const words = await this.statusReader.read(statusAndScalarsBytes(this.plan.tensors.length));
    const { step, skipped, gradNorm } = readStatus(words);
    const ran = this.firstRecordedStep !== undefined && step >= this.firstRecordedStep;
    const tensors = !ran
      ? []
      : [...this.plan.tensors]
          .sort((a, b) => a.input - b.input)
          .map(({ input, fields }) => ({
            name: tensorName(this.params[input], input),
            ...readStepStats(words, fields.tensorScalars),
          }));
    const norm = this.options.maxGradNorm !== undefined && ran ? { gradNorm } : {};
    return { step, skipped: ran && skipped, ...norm, tensors };
  }

  /** Steps skipped so far because of non-finite gradients (with skipNonFinite), after the steps submitted so far. */
  async skippedSteps(): Promise<number> {
    return readStatus(await this.statusReader.read(statusBytes())).skippedSteps;
  }

  /**
   * The state buffers and counts after the last step submitted before the call: one snapshot,
   * copied into one staging buffer by one submit.
   */
  async readState(): Promise<StateValues> {
    return readStateValues(this.device, this.scratch, this.state, this.options.momentumDtype);
  }

  /** Elements each state buffer holds (f32, or 16-bit for a 16-bit M). */
  stateLengths(): Record<StateBuffer, number> {
    const size = (b: StateBuffer) => (b === 'momentum' ? this.plan.momentumElementBytes : 4);
    return Object.fromEntries(STATE_BUFFERS.map((b) => [b, this.state[b].size / size(b)])) as Record<
      StateBuffer,
      number
    >;
  }

  /** Replaces the whole state and the counts (checked by the caller); steps recorded earlier no longer count for stats(). */
  writeState(state: StateValues): void {
    for (const b of STATE_BUFFERS) {
      const data = encodeStateBuffer(this.options.momentumDtype, b, state.values[b]);
      this.device.queue.writeBuffer(this.state[b], 0, data.buffer, data.byteOffset, data.byteLength);
    }
    this.device.queue.writeBuffer(this.scratch, 0, statusWords(state.step, state.skippedSteps));
    this.firstRecordedStep = undefined;
  }

  /** Frees the engine's GPU buffers. */
  destroy(): void {
    for (const b of this.ownedBuffers.splice(0)) b.destroy();
  }

  private groupTensors(g: PlannedGroup<GPUBuffer>): PlannedTensor[] {
    return this.plan.tensors.slice(g.firstTensor, g.firstTensor + g.tensorCount);
  }

  /** The dispatches of a step over the given groups' buffers, with a bind group per window. */
  private makeDispatches(groups: readonly PlannedGroup<GPUBuffer>[], views: readonly GroupViews[]): Dispatch[] {
    const shared: SharedBuffers = { table: this.table, settings: this.settings, ...this.state, scratch: this.scratch };
    return programDispatches(
      groups.map((g, i) => ({
        group: g,
        windows: this.windows[i].map((w, k) => ({
          ...w,
          bindGroup: windowBindGroup(
            this.device,
            this.bindGroupLayout,
            `adafactor window ${i}.${k}`,
            g,
            w,
            views[i],
            shared,
            this.windowUniforms[i][k],
          ),
        })),
        pipelineFor: (kernel: KernelName) => this.pipelineFor(kernel, views[i]),
      })),
      {
        skipNonFinite: this.options.skipNonFinite,
        caution: this.usesCaution,
        maxGradNorm: this.options.maxGradNorm !== undefined,
      },
    );
  }

  /** Whether a parameter group uses caution, whose whole-tensor count needs passes of its own. */
  private get usesCaution(): boolean {
    return this.groupOptions.some((o) => o.caution && o.beta1 !== undefined);
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.ownedBuffers.push(buffer);
    return buffer;
  }
}
