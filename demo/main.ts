/**
 * The demo page: trains two copies of one model side by side, Adafactor and Adam, and shows
 * their pictures, loss curves, speed and optimizer-state memory, and Adafactor's step size and
 * clip divisor on one weight matrix. Progress is exposed for automation as `window.demo`.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Adafactor, type AdafactorOptions } from '../src/index.js';
import { FusedAdam } from './adam.js';
import gatherSource from './kernels/gather.wgsl?raw';
import { FEATURES, IMAGE_SIZE, fourierFeatures, targetImage } from './image.js';
import { Kernels, Model, type ModelTensor, modelLayout } from './model.js';

const BATCH = 128;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
/**
 * When to redraw the pictures. A render of both models costs about ten training steps (3 to 7 s
 * on SwiftShader with two cores), so the page redraws right after the first step (which compiled the pipelines, so
 * that render's time is its own), then once at least REDRAW_MS has passed since the last redraw
 * and training has had k times the last render's time: k = 1 after the first redraw, growing to
 * TRAIN_PER_RENDER, so that the early pictures, which change most, come quickly, and later a slow
 * GPU still trains 3/4 of the time. A GPU that renders in milliseconds redraws every second.
 */
const REDRAW_MS = 1000;
const TRAIN_PER_RENDER = 3;
/**
 * How often to read Adafactor's step statistics back (`stats()`, one small copy). The read is not
 * awaited by the training loop, and the steps between two reads are not shown.
 */
const STATS_MS = 1000;

/** What Adafactor did to the watched weight matrix at one step, as `stats()` reported it. */
export interface StepPoint {
  step: number;
  /** RMS(X_{t-1}): the weights before the step. */
  paramRms: number;
  /** alpha_t = rho_t * max(eps2, RMS(X_{t-1})). */
  stepSize: number;
  /** RMS(U) before clipping. */
  updateRms: number;
  /** max(1, RMS(U) / clipThreshold): what the update was divided by. */
  clipDivisor: number;
}

export interface DemoState {
  step: number;
  loss: { adafactor: number; adam: number };
  firstLoss: { adafactor: number; adam: number };
  stateBytes: { adafactor: number; adam: number };
  /** The Adafactor model's weight matrix whose step the second chart shows, as the optimizer names it. */
  watched: string;
  /** That matrix's step statistics, about once a second (STATS_MS), in step order. */
  adafactorStats: StepPoint[];
  stepsPerSecond: number;
  /** Milliseconds from opening the page to the first pictures of a trained model. */
  firstResultMs: number | null;
  /** The page's clock (performance.now()) when the first training step had finished. */
  firstStepAt: number | null;
  /** The page's clock when the pictures first showed a trained model (renderedStep > 0). */
  firstRedrawAt: number | null;
  /** The step whose predictions the pictures show: 0 until the first redraw. */
  renderedStep: number;
  /** How many times the pictures have been redrawn. */
  redraws: number;
  /** How long the last redraw took: render both models, read back, draw. */
  renderMs: number;
  /** The status line's text. */
  status: string;
  running: boolean;
  error: string | null;
}

declare global {
  interface Window {
    demo: DemoState;
  }
}

window.demo = {
  step: 0,
  loss: { adafactor: NaN, adam: NaN },
  firstLoss: { adafactor: NaN, adam: NaN },
  stateBytes: { adafactor: 0, adam: 0 },
  watched: '',
  adafactorStats: [],
  stepsPerSecond: 0,
  firstResultMs: null,
  firstStepAt: null,
  firstRedrawAt: null,
  renderedStep: 0,
  redraws: 0,
  renderMs: 0,
  status: '',
  running: false,
  error: null,
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The line under the title that says what the page is doing. An `error` (red) stops training and stays. */
function setStatus(text: string, kind: 'busy' | 'running' | 'paused' | 'error'): void {
  if (window.demo.error !== null) return;
  if (kind === 'error') window.demo.error = text;
  $('statusText').textContent = text;
  $('status').dataset.kind = kind;
  window.demo.status = text;
}

/** A line under the status, for a click that was refused; null hides it. */
function setNotice(text: string | null): void {
  const notice = $('notice');
  notice.hidden = text === null;
  notice.textContent = text ?? '';
}

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

/** The "waiting" labels over the models' pictures: shown with a text, or hidden with null. */
function setPending(text: string | null): void {
  document.querySelectorAll<HTMLElement>('.pending').forEach((label) => {
    label.hidden = text === null;
    if (text !== null) label.textContent = text;
  });
}

const formatBytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const formatPercent = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 2 : 1)}%`;

/** The headline: both optimizers' state bytes as read from them, as a sentence and as bars. */
function showMemory(run: Run, options: AdafactorOptions): void {
  const bytes = { adafactor: run.adafactor.stateBytes, adam: run.adam.stateBytes };
  window.demo.stateBytes = bytes;
  const ratio = bytes.adafactor / bytes.adam;
  $('stateRatio').textContent = formatPercent(ratio);
  $('adafactorState').textContent = formatBytes(bytes.adafactor);
  $('adamState').textContent = formatBytes(bytes.adam);
  $('adafactorBar').style.width = `${Math.min(100, 100 * ratio)}%`;
  $('adamBar').style.width = '100%';
  const parameters = run.adamModel.parameterCount.toLocaleString('en-US');
  const firstMoment = options.beta1 === undefined ? '' : ', plus a first moment per parameter (beta1 is set)';
  $('memoryNote').textContent =
    `Same ${parameters} parameters. Adam keeps two floats per parameter; Adafactor keeps a row and a column of second-moment statistics per weight matrix, and one value per bias entry${firstMoment}.`;
}

/** Everything one training run owns; made anew on reset. */
class Run {
  readonly adafactorModel: Model;
  readonly adamModel: Model;
  readonly adafactor: Adafactor;
  readonly adam: FusedAdam;
  /** The largest weight matrix, whose step the second chart shows. */
  readonly watched: ModelTensor;
  private readonly readback: GPUBuffer;
  private readonly renderReadback: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    kernels: Kernels,
    private readonly shared: Shared,
    options: AdafactorOptions,
  ) {
    const layout = modelLayout(42);
    this.adafactorModel = new Model(kernels, shared.data, layout);
    this.adamModel = new Model(kernels, shared.data, layout);
    const m = this.adafactorModel;
    const size = (t: ModelTensor) => t.shape.reduce((a, b) => a * b, 1);
    this.watched = m.tensors.filter((t) => t.shape.length === 2).reduce((a, b) => (size(b) > size(a) ? b : a));
    try {
      this.adafactor = new Adafactor(
        device,
        m.tensors.map((t) => ({
          param: m.params,
          grad: m.grads,
          shape: t.shape,
          paramOffset: t.offset * 4,
          gradOffset: t.offset * 4,
          name: t.name,
        })),
        options,
      );
    } catch (error) {
      // Options Adafactor refuses: the page keeps the run it has, so free this one's models.
      this.adafactorModel.destroy();
      this.adamModel.destroy();
      throw error;
    }
    this.adam = new FusedAdam(device, this.adamModel.params, this.adamModel.grads, this.adamModel.parameterCount, {
      lr: 1e-3,
    });
    this.readback = device.createBuffer({ size: 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.renderReadback = device.createBuffer({
      size: 2 * PIXELS * 3 * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
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

  /** What the last Adafactor step that ran did to the watched matrix (null before any step). */
  async watchedStats(): Promise<StepPoint | null> {
    const stats = await this.adafactor.stats();
    const tensor = stats.tensors.find((t) => t.name === this.watched.name);
    return tensor
      ? {
          step: stats.step,
          paramRms: tensor.paramRms,
          stepSize: tensor.stepSize,
          updateRms: tensor.updateRms,
          clipDivisor: tensor.clipDivisor,
        }
      : null;
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

  constructor(
    private readonly device: GPUDevice,
    target: Float32Array<ArrayBuffer>,
  ) {
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
    this.gather = device.createComputePipeline({
      label: 'gather',
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: gatherSource }), entryPoint: 'main' },
    });
    this.gatherGroup = device.createBindGroup({
      layout: this.gather.getBindGroupLayout(0),
      entries: [sizes, this.pixelIndices, allFeatures, allTargets, this.data.batchFeatures, this.data.batchTargets].map(
        (buffer, binding) => ({ binding, resource: { buffer } }),
      ),
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

/** Step numbers on an x axis: whole steps, also while there are only a few. */
const STEP_AXIS: uPlot.Axis = {
  label: 'step',
  incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000],
};

/**
 * A chart of series over the steps that grows as values come in; the legend shows the latest
 * values unless the pointer is over the chart. `height` gives the height for a width.
 */
function liveChart(
  element: HTMLElement,
  height: (width: number) => number,
  options: Pick<uPlot.Options, 'scales' | 'axes' | 'series'>,
): { add: (step: number, ...values: number[]) => void; clear: () => void } {
  const data: number[][] = options.series.map(() => []);
  const showLatest = (u: uPlot) => {
    const last = data[0].length - 1;
    if (u.cursor.idx == null && last >= 0 && u.legend.idx !== last) u.setLegend({ idx: last }, false);
  };
  const plot = new uPlot(
    { ...options, width: element.clientWidth, height: height(element.clientWidth), hooks: { setLegend: [showLatest] } },
    data as uPlot.AlignedData,
    element,
  );
  new ResizeObserver(() => {
    if (element.clientWidth !== plot.width)
      plot.setSize({ width: element.clientWidth, height: height(element.clientWidth) });
  }).observe(element);
  return {
    add(step, ...values) {
      data[0].push(step);
      values.forEach((v, i) => data[i + 1].push(v));
      plot.setData(data as uPlot.AlignedData);
      showLatest(plot);
    },
    clear() {
      data.forEach((series) => (series.length = 0));
      plot.setData(data as uPlot.AlignedData);
    },
  };
}

const exponential = (_: uPlot, v: number | null) => (v == null ? '--' : v.toExponential(2));

/** Both models' loss curves. */
function lossChart(element: HTMLElement) {
  return liveChart(element, (width) => (width < 500 ? 200 : 260), {
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [STEP_AXIS, { label: 'loss (MSE, log scale)' }],
    series: [
      { label: 'step' },
      { label: 'Adafactor', stroke: '#e76f51', width: 2, value: exponential },
      { label: 'Adam', stroke: '#1d3557', width: 2, value: exponential },
    ],
  });
}

/** The height of the two small charts of Adafactor's step, for a width. */
const stepChartHeight = (width: number) => (width < 500 ? 150 : 170);
/** Their x axis: steps, unlabelled (the legend says "step") to leave the small plot its height. */
const SMALL_STEP_AXIS: uPlot.Axis = { ...STEP_AXIS, label: undefined };

/** alpha_t of one weight matrix over the steps, on a log scale. */
function stepSizeChart(element: HTMLElement) {
  return liveChart(element, stepChartHeight, {
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [
      SMALL_STEP_AXIS,
      {
        label: 'αₜ (log scale)',
        size: 56,
        values: (_u, splits) => splits.map((v) => (v == null ? '' : v.toExponential(0))),
      },
    ],
    series: [{ label: 'step' }, { label: 'αₜ', stroke: '#e76f51', width: 2, value: exponential }],
  });
}

/** The clip divisor max(1, RMS(U) / d) of one weight matrix over the steps; 1 (not clipped) sits just above the floor. */
function clipChart(element: HTMLElement) {
  return liveChart(element, stepChartHeight, {
    scales: { x: { time: false }, y: { range: (_u, _min, max) => [0.9, Math.max(2, max + 0.1 * (max - 1))] } },
    axes: [SMALL_STEP_AXIS, { label: 'clip divisor', size: 56 }],
    series: [
      { label: 'step' },
      { label: 'clip divisor', stroke: '#2a9d8f', width: 2, value: (_u, v) => (v == null ? '--' : v.toFixed(3)) },
    ],
  });
}

/** Steps per second over the last few seconds, redraws included: what training really gets. */
function stepRate(windowMs = 15_000): { tick: () => number | null } {
  const times: number[] = [];
  return {
    tick() {
      const now = performance.now();
      times.push(now);
      while (times.length > 2 && now - times[0] > windowMs) times.shift();
      const span = now - times[0];
      return span < 1000 ? null : (1000 * (times.length - 1)) / span;
    },
  };
}

async function main(): Promise<void> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    $('app').hidden = true;
    $('toggle').hidden = $('reset').hidden = true;
    setStatus(
      navigator.gpu
        ? 'This browser has WebGPU but gave the page no GPU adapter: it blocks WebGPU on this GPU or driver. Update the graphics driver, look at the WebGPU lines of chrome://gpu, or try another browser.'
        : 'This browser has no WebGPU. Open the demo in a recent Chrome or Edge (desktop or Android), Safari 26, or Firefox with WebGPU enabled; headless Chromium needs --enable-unsafe-webgpu.',
      'error',
    );
    return;
  }
  setStatus('Compiling shaders and running the first step…', 'busy');
  const device = await adapter.requestDevice();
  device.addEventListener('uncapturederror', (event) => {
    const message = `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
    setStatus(message, 'error');
    console.error(message);
  });
  device.lost.then((info) =>
    setStatus(`The GPU device was lost: ${info.message}. Reload the page to start again.`, 'error'),
  );
  const target = targetImage();
  drawImage($('target'), target);
  const kernels = new Kernels(device);
  const shared = new Shared(device, target);
  const chart = lossChart($('chart'));
  const stepSizes = stepSizeChart($('stepSizeChart'));
  const clipDivisors = clipChart($('clipChart'));
  let options = readOptions();
  let run = new Run(device, kernels, shared, options);
  showMemory(run, options);
  window.demo.watched = run.watched.name;
  $('watchedName').textContent = run.watched.shape.join(' → ');

  const d = window.demo;
  let running = true; // what the Pause/Start button asks for
  let generation = 0; // bumped by reset: a training loop of an older generation stops
  let looping = false;
  let loopDone = Promise.resolve();
  let lastRedraw = 0;
  let rate = stepRate();
  let lastStats = -Infinity; // when the step statistics were last asked for
  let statsRead: Promise<void> | null = null; // the read under way, if any

  /**
   * Asks Adafactor what its last step did to the watched matrix and charts it when the answer
   * comes. Training goes on meanwhile: the answer is for the last step submitted when the copy
   * was made, which may be the one after d.step, and says which.
   */
  function readStats(mine: number): void {
    if (statsRead !== null) return;
    lastStats = performance.now();
    statsRead = run
      .watchedStats()
      .then((point) => {
        const last = d.adafactorStats.at(-1);
        if (mine !== generation || point === null || (last !== undefined && point.step <= last.step)) return;
        d.adafactorStats.push(point);
        stepSizes.add(point.step, point.stepSize);
        clipDivisors.add(point.step, point.clipDivisor);
      })
      .catch((error) => {
        setStatus(`Error reading Adafactor's statistics: ${String(error)}`, 'error');
        console.error(error);
      })
      .finally(() => (statsRead = null));
  }

  async function redraw(): Promise<void> {
    const step = d.step;
    if (d.renderedStep === 0) {
      setPending('drawing…');
      setStatus(`Training: step ${step} · drawing the first pictures…`, 'busy');
    }
    const started = performance.now();
    const [a, b] = await run.render();
    drawImage($('adafactorImage'), a);
    drawImage($('adamImage'), b);
    lastRedraw = performance.now();
    d.renderMs = lastRedraw - started;
    d.renderedStep = step;
    d.redraws++;
    d.firstRedrawAt ??= lastRedraw;
    d.firstResultMs ??= lastRedraw;
    setPending(null);
    $('adafactorCaption').textContent = $('adamCaption').textContent = `after ${step} step${step === 1 ? '' : 's'}`;
  }

  const redrawDue = () =>
    d.renderedStep === 0 ||
    performance.now() - lastRedraw >= Math.max(REDRAW_MS, Math.min(d.redraws, TRAIN_PER_RENDER) * d.renderMs);

  function showProgress(): void {
    if (!running) return; // "Pausing…" stays until the loop stops
    const speed = d.stepsPerSecond > 0 ? `${d.stepsPerSecond.toFixed(1)} steps/s` : 'measuring speed';
    const pictures = d.renderedStep > 0 ? ` · pictures at step ${d.renderedStep}` : '';
    setStatus(`Training: step ${d.step} · ${speed}${pictures}`, 'running');
  }

  async function train(mine: number): Promise<void> {
    looping = true;
    d.running = true;
    try {
      while (running && mine === generation && d.error === null) {
        const [a, b] = await run.step();
        if (mine !== generation) break;
        d.step++;
        d.loss = { adafactor: a, adam: b };
        if (d.step === 1) d.firstLoss = { adafactor: a, adam: b };
        d.firstStepAt ??= performance.now();
        chart.add(d.step, a, b);
        d.stepsPerSecond = rate.tick() ?? d.stepsPerSecond;
        showProgress();
        if (performance.now() - lastStats >= STATS_MS) readStats(mine);
        if (redrawDue()) {
          const first = d.renderedStep === 0;
          await redraw();
          if (first) rate = stepRate(); // the first step's pipeline compilation is no measure of speed
          showProgress();
        }
      }
      // Paused: let the pictures and the step chart catch up with the last step.
      if (mine === generation && d.error === null) {
        await statsRead;
        if ((d.adafactorStats.at(-1)?.step ?? 0) < d.step) readStats(mine);
        if (d.renderedStep < d.step) await redraw();
      }
    } finally {
      await statsRead; // a reset destroys this run once the loop is done
      looping = false;
      d.running = false;
    }
    if (mine !== generation) return;
    if (running)
      start(); // Start was pressed again while the last step finished
    else setStatus(`Paused at step ${d.step}. Press Start to go on.`, 'paused');
  }

  function start(): void {
    if (looping) return;
    rate = stepRate();
    loopDone = train(generation).catch((error) => {
      setStatus(`Error: ${String(error)}`, 'error');
      console.error(error);
    });
  }

  const toggle = $<HTMLButtonElement>('toggle');
  const reset = $<HTMLButtonElement>('reset');
  toggle.onclick = () => {
    running = !running;
    toggle.textContent = running ? 'Pause' : 'Start';
    if (running) start();
    else setStatus('Pausing after the step under way…', 'busy');
  };
  $<HTMLInputElement>('relativeStep').onchange = (e) =>
    ($<HTMLInputElement>('lr').disabled = (e.target as HTMLInputElement).checked);
  reset.onclick = async () => {
    let next: Run;
    const nextOptions = readOptions();
    try {
      next = new Run(device, kernels, shared, nextOptions);
    } catch (error) {
      setNotice(`Not reset: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    setNotice(null);
    options = nextOptions;
    reset.disabled = true;
    setStatus('Resetting: both models start again from the same initial weights…', 'busy');
    generation++;
    await loopDone; // the old run's last step may still be on the GPU
    run.destroy();
    run = next;
    Object.assign(d, {
      step: 0,
      renderedStep: 0,
      stepsPerSecond: 0,
      loss: { adafactor: NaN, adam: NaN },
      firstLoss: { adafactor: NaN, adam: NaN },
      adafactorStats: [],
    });
    chart.clear();
    stepSizes.clear();
    clipDivisors.clear();
    lastStats = -Infinity;
    showMemory(run, options);
    for (const id of ['adafactorImage', 'adamImage'])
      $<HTMLCanvasElement>(id).getContext('2d')!.clearRect(0, 0, IMAGE_SIZE, IMAGE_SIZE);
    setPending('waiting for the first step');
    $('adafactorCaption').textContent = $('adamCaption').textContent = '\u00a0';
    reset.disabled = false;
    if (running) start();
    else setStatus('Reset. Press Start to train.', 'paused');
  };

  toggle.disabled = reset.disabled = false;
  start();
}

main().catch((error) => {
  setStatus(`Error: ${String(error)}`, 'error');
  console.error(error);
});
