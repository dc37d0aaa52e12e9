/**
 * The demo page: trains two copies of one model side by side, Adafactor and Adam, and shows
 * their pictures, loss curves, speed and optimizer-state memory. Progress is exposed for
 * automation as `window.demo`.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Adafactor, type AdafactorOptions } from '../src/index.js';
import { FusedAdam } from './adam.js';
import gatherSource from './kernels/gather.wgsl?raw';
import { FEATURES, IMAGE_SIZE, fourierFeatures, targetImage } from './image.js';
import { Kernels, Model, modelLayout } from './model.js';

const BATCH = 128;
/** Pictures are redrawn at least this many steps apart, and after at least four times as long as the last redraw took, so that a slow GPU spends most of its time training. */
const RENDER_EVERY = 10;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

export interface DemoState {
  step: number;
  loss: { adafactor: number; adam: number };
  firstLoss: { adafactor: number; adam: number };
  stateBytes: { adafactor: number; adam: number };
  stepsPerSecond: number;
  /** Milliseconds from opening the page to the first predictions drawn. */
  firstResultMs: number | null;
  /** The step whose predictions the pictures show. */
  renderedStep: number;
  running: boolean;
  error: string | null;
}

declare global {
  interface Window { demo: DemoState }
}

window.demo = { step: 0, loss: { adafactor: NaN, adam: NaN }, firstLoss: { adafactor: NaN, adam: NaN }, stateBytes: { adafactor: 0, adam: 0 }, stepsPerSecond: 0, firstResultMs: null, renderedStep: 0, running: false, error: null };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function readOptions(): AdafactorOptions {
  const number = (id: string) => Number($<HTMLInputElement>(id).value);
  const beta1 = $<HTMLInputElement>('beta1').value.trim();
  const relative = $<HTMLInputElement>('relativeStep').checked;
  return {
    clipThreshold: number('clipThreshold'),
    decayRate: number('decayRate'),
    ...(beta1 === '' ? {} : { beta1: Number(beta1) }),
    ...(relative ? {} : { relativeStep: false, lr: number('lr') }),
  };
}

function drawImage(canvas: HTMLCanvasElement, rgb: Float32Array): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(IMAGE_SIZE, IMAGE_SIZE);
  for (let p = 0; p < PIXELS; p++) {
    for (let c = 0; c < 3; c++) image.data[p * 4 + c] = Math.round(255 * Math.min(1, Math.max(0, rgb[p * 3 + c])));
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

const formatBytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** Everything one training run owns; made anew on reset. */
class Run {
  readonly adafactorModel: Model;
  readonly adamModel: Model;
  readonly adafactor: Adafactor;
  readonly adam: FusedAdam;
  private readonly readback: GPUBuffer;
  private readonly renderReadback: GPUBuffer;

  constructor(private readonly device: GPUDevice, kernels: Kernels, private readonly shared: Shared, options: AdafactorOptions) {
    const layout = modelLayout(42);
    this.adafactorModel = new Model(kernels, shared.data, layout);
    this.adamModel = new Model(kernels, shared.data, layout);
    const m = this.adafactorModel;
    this.adafactor = new Adafactor(
      device,
      m.tensors.map((t) => ({ param: m.params, grad: m.grads, shape: t.shape, paramOffset: t.offset * 4, gradOffset: t.offset * 4, name: t.name })),
      options,
    );
    this.adam = new FusedAdam(device, this.adamModel.params, this.adamModel.grads, this.adamModel.parameterCount, { lr: 1e-3 });
    this.readback = device.createBuffer({ size: 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.renderReadback = device.createBuffer({ size: 2 * PIXELS * 3 * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** One training step of both models on the same minibatch; returns their losses. */
  async step(): Promise<[number, number]> {
    const encoder = this.device.createCommandEncoder();
    this.shared.encodeBatch(encoder);
    this.adafactorModel.encodeGradients(encoder);
    this.adafactor.step(encoder);
    this.adamModel.encodeGradients(encoder);
    this.adam.step(encoder);
    encoder.copyBufferToBuffer(this.adafactorModel.loss, 0, this.readback, 0, 4);
    encoder.copyBufferToBuffer(this.adamModel.loss, 0, this.readback, 4, 4);
    this.device.queue.submit([encoder.finish()]);
    await this.readback.mapAsync(GPUMapMode.READ);
    const [a, b] = new Float32Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return [a, b];
  }

  /** Both models' pictures of the whole image. */
  async render(): Promise<[Float32Array, Float32Array]> {
    const encoder = this.device.createCommandEncoder();
    this.adafactorModel.encodeRender(encoder);
    this.adamModel.encodeRender(encoder);
    const bytes = PIXELS * 3 * 4;
    encoder.copyBufferToBuffer(this.adafactorModel.rendered, 0, this.renderReadback, 0, bytes);
    encoder.copyBufferToBuffer(this.adamModel.rendered, 0, this.renderReadback, bytes, bytes);
    this.device.queue.submit([encoder.finish()]);
    await this.renderReadback.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(this.renderReadback.getMappedRange().slice(0));
    this.renderReadback.unmap();
    return [all.subarray(0, PIXELS * 3), all.subarray(PIXELS * 3)];
  }

  destroy(): void {
    this.adafactor.destroy();
    this.adam.destroy();
    this.adafactorModel.destroy();
    this.adamModel.destroy();
    this.readback.destroy();
    this.renderReadback.destroy();
  }
}

/** The image, its features, and the minibatch both models train on. */
class Shared {
  readonly data;
  private readonly pixelIndices: GPUBuffer;
  private readonly gather: GPUComputePipeline;
  private readonly gatherGroup: GPUBindGroup;
  private readonly order = new Uint32Array(BATCH);

  constructor(private readonly device: GPUDevice, target: Float32Array<ArrayBuffer>) {
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const upload = (data: Float32Array<ArrayBuffer>) => {
      const b = device.createBuffer({ size: data.byteLength, usage: storage });
      device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const allFeatures = upload(fourierFeatures());
    const allTargets = upload(target);
    this.data = {
      batchFeatures: device.createBuffer({ size: BATCH * FEATURES * 4, usage: storage }),
      batchTargets: device.createBuffer({ size: BATCH * 3 * 4, usage: storage }),
      batchSize: BATCH,
      allFeatures,
      pixelCount: PIXELS,
    };
    this.pixelIndices = device.createBuffer({ size: BATCH * 4, usage: storage });
    const sizes = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(sizes, 0, new Uint32Array([BATCH, FEATURES, 0, 0]));
    this.gather = device.createComputePipeline({ label: 'gather', layout: 'auto', compute: { module: device.createShaderModule({ code: gatherSource }), entryPoint: 'main' } });
    this.gatherGroup = device.createBindGroup({
      layout: this.gather.getBindGroupLayout(0),
      entries: [sizes, this.pixelIndices, allFeatures, allTargets, this.data.batchFeatures, this.data.batchTargets].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** A fresh random minibatch of pixels, gathered on the GPU. */
  encodeBatch(encoder: GPUCommandEncoder): void {
    for (let b = 0; b < BATCH; b++) this.order[b] = Math.floor(Math.random() * PIXELS);
    this.device.queue.writeBuffer(this.pixelIndices, 0, this.order);
    const pass = encoder.beginComputePass({ label: 'gather' });
    pass.setPipeline(this.gather);
    pass.setBindGroup(0, this.gatherGroup);
    pass.dispatchWorkgroups(Math.ceil(BATCH / 64));
    pass.end();
  }
}

function lossChart(): { add: (step: number, a: number, b: number) => void; clear: () => void } {
  const data: [number[], number[], number[]] = [[], [], []];
  const element = $('chart');
  const plot = new uPlot(
    {
      width: Math.min(element.clientWidth || 900, 900),
      height: 260,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'step' }, { label: 'loss (MSE, log scale)' }],
      series: [{ label: 'step' }, { label: 'Adafactor', stroke: '#e76f51', width: 2 }, { label: 'Adam', stroke: '#1d3557', width: 2 }],
    },
    data,
    element,
  );
  return {
    add(step, a, b) {
      data[0].push(step);
      data[1].push(a);
      data[2].push(b);
      plot.setData(data);
    },
    clear() {
      data.forEach((series) => (series.length = 0));
      plot.setData(data);
    },
  };
}

async function main(): Promise<void> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    $('app').hidden = true;
    const box = $('unsupported');
    box.hidden = false;
    box.textContent = navigator.gpu
      ? 'WebGPU is present but no GPU adapter was found. Update your graphics driver, or in Chrome open chrome://gpu to see why WebGPU is blocked.'
      : 'This browser has no WebGPU. Open the demo in a recent Chrome, Edge or Safari (or Firefox with WebGPU enabled); headless Chromium needs --enable-unsafe-webgpu.';
    window.demo.error = box.textContent;
    return;
  }
  const device = await adapter.requestDevice();
  device.addEventListener('uncapturederror', (event) => {
    window.demo.error = `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
    console.error(window.demo.error);
  });
  device.lost.then((info) => {
    window.demo.error = `GPU device lost: ${info.message}`;
    $('progress').textContent = window.demo.error;
  });
  const target = targetImage();
  drawImage($('target'), target);
  const kernels = new Kernels(device);
  const shared = new Shared(device, target);
  const chart = lossChart();
  let run = new Run(device, kernels, shared, readOptions());
  let running = true;
  let generation = 0;

  const toggle = $<HTMLButtonElement>('toggle');
  toggle.onclick = () => {
    running = !running;
    toggle.textContent = running ? 'Pause' : 'Start';
    if (running) void loop(generation);
  };
  $<HTMLInputElement>('relativeStep').onchange = (e) => ($<HTMLInputElement>('lr').disabled = (e.target as HTMLInputElement).checked);
  $('reset').onclick = () => {
    let options: AdafactorOptions;
    try {
      options = readOptions();
      run.destroy();
      run = new Run(device, kernels, shared, options);
    } catch (error) {
      $('progress').textContent = String(error);
      return;
    }
    generation++;
    chart.clear();
    Object.assign(window.demo, { step: 0, renderedStep: 0, firstLoss: { adafactor: NaN, adam: NaN } });
    void show();
    if (running) void loop(generation);
  };

  let renderMs = 0;
  let renderedAt = 0;
  async function show(): Promise<void> {
    const started = performance.now();
    const step = window.demo.step;
    const [a, b] = await run.render();
    renderedAt = performance.now();
    renderMs = renderedAt - started;
    window.demo.renderedStep = step;
    drawImage($('adafactorImage'), a);
    drawImage($('adamImage'), b);
    window.demo.firstResultMs ??= performance.now();
    const state = { adafactor: run.adafactor.stateBytes, adam: run.adam.stateBytes };
    window.demo.stateBytes = state;
    $('adafactorState').textContent = formatBytes(state.adafactor);
    $('adamState').textContent = formatBytes(state.adam);
    $('stateRatio').textContent = `${((100 * state.adafactor) / state.adam).toFixed(2)}%`;
  }

  async function loop(mine: number): Promise<void> {
    window.demo.running = true;
    let started = performance.now();
    let stepsSince = 0;
    while (running && mine === generation) {
      const [a, b] = await run.step();
      if (mine !== generation) break;
      const d = window.demo;
      d.step++;
      d.loss = { adafactor: a, adam: b };
      if (d.step === 1) d.firstLoss = { adafactor: a, adam: b };
      chart.add(d.step, a, b);
      $('adafactorLoss').textContent = a.toExponential(3);
      $('adamLoss').textContent = b.toExponential(3);
      stepsSince++;
      const elapsed = performance.now() - started;
      if (elapsed > 1000) {
        d.stepsPerSecond = (1000 * stepsSince) / elapsed;
        started = performance.now();
        stepsSince = 0;
      }
      $('progress').textContent = `step ${d.step}, ${d.stepsPerSecond.toFixed(1)} steps/s (both models), batch ${BATCH} pixels`;
      if (d.step - d.renderedStep >= RENDER_EVERY && performance.now() - renderedAt >= 4 * renderMs) await show();
    }
    window.demo.running = running;
  }

  await show();
  void loop(generation);
}

main().catch((error) => {
  window.demo.error = String(error);
  $('progress').textContent = `error: ${String(error)}`;
  console.error(error);
});
