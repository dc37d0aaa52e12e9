/**
 * A fused Adam step in WGSL over one parameter buffer and its gradient buffer: the baseline the
 * demo trains beside Adafactor, and the benchmark's. Its state is two floats per parameter.
 */
import adamSource from './kernels/adam.wgsl?raw';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

const ELEMENTS_PER_INVOCATION = 4;
const WORKGROUP_SIZE = 256;

export class FusedAdam {
  stepCount = 0;
  readonly stateBytes: number;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;
  private readonly uniform: GPUBuffer;
  private readonly moments: GPUBuffer[];
  private readonly grid: [number, number];
  private readonly options: Required<AdamOptions>;

  constructor(
    private readonly device: GPUDevice,
    param: GPUBuffer,
    grad: GPUBuffer,
    private readonly count: number,
    options: AdamOptions = {},
  ) {
    this.options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...options };
    this.stateBytes = 2 * 4 * count;
    this.moments = [0, 1].map(() =>
      device.createBuffer({ label: 'adam moment', size: Math.max(16, 4 * count), usage: GPUBufferUsage.STORAGE }),
    );
    this.uniform = device.createBuffer({
      label: 'adam',
      size: 32,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.pipeline = device.createComputePipeline({
      label: 'adam',
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: adamSource }), entryPoint: 'main' },
    });
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [this.uniform, param, grad, ...this.moments].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    const workgroups = Math.ceil(count / (ELEMENTS_PER_INVOCATION * WORKGROUP_SIZE));
    const x = Math.min(workgroups, device.limits.maxComputeWorkgroupsPerDimension);
    this.grid = [x, Math.ceil(workgroups / x)];
  }

  /** Records one step; the per-step scalars go through queue.writeBuffer, so submit each step before recording the next. */
  step(encoder: GPUCommandEncoder): void {
    const t = ++this.stepCount;
    const { lr, beta1, beta2, eps } = this.options;
    const correction = Math.sqrt(1 - beta2 ** t);
    const data = new DataView(new ArrayBuffer(32));
    data.setUint32(0, this.count, true);
    data.setFloat32(4, beta1, true);
    data.setFloat32(8, beta2, true);
    data.setFloat32(12, (lr * correction) / (1 - beta1 ** t), true);
    data.setFloat32(16, eps * correction, true);
    this.device.queue.writeBuffer(this.uniform, 0, data.buffer);
    const pass = encoder.beginComputePass({ label: 'adam step' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(...this.grid);
    pass.end();
  }

  destroy(): void {
    for (const b of [this.uniform, ...this.moments]) b.destroy();
  }
}
