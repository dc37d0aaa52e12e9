/**
 * A coordinate MLP (Fourier features -> 320 -> 256 -> RGB, ReLU) with its forward and
 * backward passes in WGSL. Parameters live in one buffer and gradients in another, so an
 * optimizer sees every weight matrix and bias vector as a tensor at an offset.
 */
import denseForward from './kernels/dense_forward.wgsl?raw';
import denseBackwardInput from './kernels/dense_backward_input.wgsl?raw';
import denseBackwardWeight from './kernels/dense_backward_weight.wgsl?raw';
import mseLoss from './kernels/mse_loss.wgsl?raw';
import { normal, random } from './image.js';

export const LAYER_SIZES = [64, 320, 256, 3];

interface Layer {
  inputs: number;
  outputs: number;
  weight: number;
  bias: number;
}

export interface ModelTensor {
  name: string;
  shape: number[];
  offset: number;
}

/** Where each tensor lies in the parameter buffer (f32 elements), and the initial weights (He init). */
export function modelLayout(seed: number): {
  layers: Layer[];
  tensors: ModelTensor[];
  initial: Float32Array<ArrayBuffer>;
} {
  const layers: Layer[] = [];
  const tensors: ModelTensor[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < LAYER_SIZES.length; l++) {
    const [inputs, outputs] = [LAYER_SIZES[l], LAYER_SIZES[l + 1]];
    const layer = { inputs, outputs, weight: offset, bias: offset + inputs * outputs };
    tensors.push({ name: `dense${l}.weight`, shape: [inputs, outputs], offset: layer.weight });
    tensors.push({ name: `dense${l}.bias`, shape: [outputs], offset: layer.bias });
    offset = layer.bias + outputs;
    layers.push(layer);
  }
  const rand = random(seed);
  const initial = new Float32Array(offset);
  for (const layer of layers) {
    const std = Math.sqrt(2 / layer.inputs);
    for (let k = 0; k < layer.inputs * layer.outputs; k++) initial[layer.weight + k] = normal(rand) * std;
  }
  return { layers, tensors, initial };
}

const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** Pipelines shared by every model on a device. */
export class Kernels {
  readonly forward: GPUComputePipeline;
  readonly backwardInput: GPUComputePipeline;
  readonly backwardWeight: GPUComputePipeline;
  readonly loss: GPUComputePipeline;
  constructor(readonly device: GPUDevice) {
    const make = (code: string, label: string) =>
      device.createComputePipeline({
        label,
        layout: 'auto',
        compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' },
      });
    this.forward = make(denseForward, 'dense forward');
    this.backwardInput = make(denseBackwardInput, 'dense backward input');
    this.backwardWeight = make(denseBackwardWeight, 'dense backward weight');
    this.loss = make(mseLoss, 'mse loss');
  }
}

/** Buffers both models read: the minibatch (features and targets) and the whole image's features. */
export interface SharedData {
  batchFeatures: GPUBuffer;
  batchTargets: GPUBuffer;
  batchSize: number;
  allFeatures: GPUBuffer;
  pixelCount: number;
}

/** Workgroups of 64 for one invocation per 4 x 4 block of a rows x cols result. */
const blockWorkgroups = (rows: number, cols: number) => Math.ceil((Math.ceil(rows / 4) * Math.ceil(cols / 4)) / 64);

type Dispatch = { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: number };

export class Model {
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly loss: GPUBuffer;
  /** The whole image as the model sees it: [pixelCount, 3]. */
  readonly rendered: GPUBuffer;
  readonly tensors: ModelTensor[];
  readonly parameterCount: number;
  private readonly training: Dispatch[] = [];
  private readonly rendering: Dispatch[] = [];
  private readonly owned: GPUBuffer[] = [];

  constructor(kernels: Kernels, data: SharedData, layout: ReturnType<typeof modelLayout>) {
    const device = kernels.device;
    const buffer = (floats: number, label: string, extra = 0) => {
      const b = device.createBuffer({ label, size: Math.max(16, floats * 4), usage: usage | extra });
      this.owned.push(b);
      return b;
    };
    this.tensors = layout.tensors;
    this.parameterCount = layout.initial.length;
    this.params = buffer(this.parameterCount, 'params');
    this.grads = buffer(this.parameterCount, 'grads');
    device.queue.writeBuffer(this.params, 0, layout.initial);
    this.loss = buffer(1, 'loss');
    const layers = layout.layers;
    const uniform = (values: number[]) => {
      const b = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.owned.push(b);
      device.queue.writeBuffer(b, 0, new Uint32Array(values));
      return b;
    };
    const group = (pipeline: GPUComputePipeline, buffers: GPUBuffer[]) =>
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: buffers.map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
    const dims = (l: Layer, batch: number, relu: boolean) =>
      uniform([batch, l.inputs, l.outputs, relu ? 1 : 0, l.weight, l.bias, 0, 0]);

    // Training: forward on the minibatch, loss, then backward layer by layer.
    const batch = data.batchSize;
    const activations = [data.batchFeatures, ...layers.map((l) => buffer(batch * l.outputs, 'activation'))];
    const gradients = [undefined, ...layers.map((l) => buffer(batch * l.outputs, 'activation gradient'))];
    const layerDims = layers.map((l, i) => dims(l, batch, i + 1 < layers.length));
    layers.forEach((l, i) =>
      this.training.push({
        pipeline: kernels.forward,
        bindGroup: group(kernels.forward, [layerDims[i], activations[i], this.params, activations[i + 1]]),
        workgroups: blockWorkgroups(batch, l.outputs),
      }),
    );
    const outputs = batch * 3;
    this.training.push({
      pipeline: kernels.loss,
      bindGroup: group(kernels.loss, [
        uniform([outputs, 0, 0, 0]),
        activations[layers.length],
        data.batchTargets,
        gradients[layers.length]!,
        this.loss,
      ]),
      workgroups: 1,
    });
    for (let i = layers.length - 1; i >= 0; i--) {
      const l = layers[i];
      this.training.push({
        pipeline: kernels.backwardWeight,
        bindGroup: group(kernels.backwardWeight, [layerDims[i], activations[i], gradients[i + 1]!, this.grads]),
        workgroups: blockWorkgroups(l.inputs + 1, l.outputs),
      });
      if (i > 0)
        this.training.push({
          pipeline: kernels.backwardInput,
          bindGroup: group(kernels.backwardInput, [
            layerDims[i],
            gradients[i + 1]!,
            this.params,
            activations[i],
            gradients[i]!,
          ]),
          workgroups: blockWorkgroups(batch, l.inputs),
        });
    }

    // Rendering: forward on every pixel.
    const pixels = data.pixelCount;
    const renderActivations = [data.allFeatures, ...layers.map((l) => buffer(pixels * l.outputs, 'render activation'))];
    layers.forEach((l, i) =>
      this.rendering.push({
        pipeline: kernels.forward,
        bindGroup: group(kernels.forward, [
          dims(l, pixels, i + 1 < layers.length),
          renderActivations[i],
          this.params,
          renderActivations[i + 1],
        ]),
        workgroups: blockWorkgroups(pixels, l.outputs),
      }),
    );
    this.rendered = renderActivations[layers.length];
  }

  /** Forward, loss and backward on the current minibatch: fills `grads` and `loss`. */
  encodeGradients(encoder: GPUCommandEncoder): void {
    this.encode(encoder, this.training, 'gradients');
  }

  /** The model's prediction for every pixel, into `rendered`. */
  encodeRender(encoder: GPUCommandEncoder): void {
    this.encode(encoder, this.rendering, 'render');
  }

  private encode(encoder: GPUCommandEncoder, dispatches: Dispatch[], label: string): void {
    const pass = encoder.beginComputePass({ label });
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups);
    }
    pass.end();
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
