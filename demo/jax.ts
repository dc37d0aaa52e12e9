/**
 * The jax-js demo page: an MLP written in jax-js fits a 2-D function, stepped by this library's
 * Adafactor as an optax-style gradient transformation (`webgpu-adafactor/jax`), on jax-js's
 * webgpu device (its wasm device where the browser has no WebGPU). One jitted function computes
 * the loss, its gradients, Adafactor's update and the new weights. The page shows the fit, the
 * loss, the step count and the optimizer state beside Adam's; progress is `window.jaxDemo`.
 */
import { type JsTree, defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { type AdafactorJaxState, adafactor, applyUpdates } from '../src/jax/index.js';
import { normal, random } from './image.js';

/** The fit is drawn on GRID x GRID points of [-1, 1]^2. */
const GRID = 64;
/** Random points per training step. */
const BATCH = 256;
/** Random Fourier features of (x, y): sin and cos of each of FREQUENCIES projections. */
const FREQUENCIES = 16;
const LAYERS = [2 * FREQUENCIES, 256, 256, 1];
/** The fit is redrawn at most this often (a forward pass over the grid and a read back). */
const REDRAW_MS = 1000;

export interface JaxDemoState {
  /** The jax-js device the model trains on. */
  device: 'webgpu' | 'wasm' | null;
  step: number;
  /** Every step's minibatch loss, step 1 first. */
  losses: number[];
  loss: number;
  parameters: number;
  /** Adafactor's state (its arrays' elements times 4), and Adam's for the same parameters: m, v and a step count. */
  stateBytes: { adafactor: number; adam: number };
  stepsPerSecond: number;
  /** The step the picture of the fit shows: 0 until the first redraw. */
  renderedStep: number;
  status: string;
  running: boolean;
  error: string | null;
}

declare global {
  interface Window {
    jaxDemo: JaxDemoState;
  }
}

window.jaxDemo = {
  device: null,
  step: 0,
  losses: [],
  loss: NaN,
  parameters: 0,
  stateBytes: { adafactor: 0, adam: 0 },
  stepsPerSecond: 0,
  renderedStep: 0,
  status: '',
  running: false,
  error: null,
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The line under the title. An `error` stops training and stays. */
function setStatus(text: string, kind: 'busy' | 'running' | 'paused' | 'error'): void {
  if (window.jaxDemo.error !== null) return;
  if (kind === 'error') window.jaxDemo.error = text;
  $('statusText').textContent = text;
  $('status').dataset.kind = kind;
  window.jaxDemo.status = text;
}

/** The function the MLP learns: waves, a bump and a dip. */
function target(x: number, y: number): number {
  const bump = (cx: number, cy: number, width: number) => Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / width);
  return (
    0.5 * Math.sin(3 * Math.PI * x) * Math.cos(2 * Math.PI * y) + bump(0.35, -0.3, 0.06) - 0.8 * bump(-0.45, 0.5, 0.03)
  );
}

const FREQUENCY_VECTORS = (() => {
  const rand = random(3);
  return Array.from({ length: FREQUENCIES }, () => [normal(rand) * 1.5, normal(rand) * 1.5]);
})();

/** The features of each point (x, y): [sin(2 pi B v), cos(2 pi B v)] (Tancik et al. 2020). */
function features(points: Float32Array): Float32Array<ArrayBuffer> {
  const n = points.length / 2;
  const out = new Float32Array(n * 2 * FREQUENCIES);
  for (let i = 0; i < n; i++) {
    FREQUENCY_VECTORS.forEach(([a, b], f) => {
      const phase = 2 * Math.PI * (a * points[2 * i] + b * points[2 * i + 1]);
      out[i * 2 * FREQUENCIES + f] = Math.sin(phase);
      out[i * 2 * FREQUENCIES + FREQUENCIES + f] = Math.cos(phase);
    });
  }
  return out;
}

/** The grid's points, row by row from the top (y = 1) down. */
function gridPoints(): Float32Array {
  const points = new Float32Array(GRID * GRID * 2);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      points[2 * (r * GRID + c)] = (2 * c) / (GRID - 1) - 1;
      points[2 * (r * GRID + c) + 1] = 1 - (2 * r) / (GRID - 1);
    }
  }
  return points;
}

type Mlp = { w: np.Array; b: np.Array }[];

/** He-initialised weights (seeded, so a reset starts from the same weights) and zero biases. */
function initialMlp(): Mlp {
  const rand = random(42);
  return LAYERS.slice(1).map((outputs, l) => {
    const inputs = LAYERS[l];
    const std = Math.sqrt(2 / inputs);
    const w = Float32Array.from({ length: inputs * outputs }, () => normal(rand) * std);
    return { w: np.array(w, { shape: [inputs, outputs] }), b: np.zeros([outputs]) };
  });
}

/** The MLP's output for each row of `x` ([n, features] -> [n, 1]). */
function forward(params: Mlp, x: np.Array): np.Array {
  let h = x;
  params.forEach(({ w, b }, l) => {
    h = np.matmul(h, w).add(b);
    if (l < params.length - 1) h = nn.relu(h);
  });
  return h;
}

/** Mean squared error against `y` ([n, 1]). */
function mse(params: Mlp, x: np.Array, y: np.Array): np.Array {
  return np.mean(np.square(forward(params, x).sub(y)));
}

const optimizer = adafactor();

/** One training step: loss and gradients, Adafactor's update, the new weights (consumes its arguments). */
const trainStep = jit(((params: Mlp, state: AdafactorJaxState, x: np.Array, y: np.Array) => {
  const [loss, grads] = valueAndGrad(mse)(tree.ref(params), x, y);
  const [updates, next] = optimizer.update(grads as Mlp, state, tree.ref(params));
  return [applyUpdates(params, updates), next, loss];
}) as never) as unknown as (
  params: Mlp,
  state: AdafactorJaxState,
  x: np.Array,
  y: np.Array,
) => [Mlp, AdafactorJaxState, np.Array];

const predict = jit(forward as never) as unknown as (params: Mlp, x: np.Array) => np.Array;

const leaves = (t: JsTree<np.Array>) => tree.leaves(t) as np.Array[];

/** The weights and Adafactor's state of one run; made anew on reset. */
class Run {
  params: Mlp = initialMlp();
  state: AdafactorJaxState = optimizer.init(tree.ref(this.params));
  readonly parameters = leaves(this.params).reduce((n, a) => n + a.size, 0);
  /** Every state array is float32 or int32 at Adafactor's defaults. */
  readonly stateBytes = leaves(this.state as unknown as JsTree<np.Array>).reduce((n, a) => n + 4 * a.size, 0);

  /** The minibatches' points: seeded, so that a run (and a reset) sees the same points in the same order. */
  private readonly rand = random(2018);

  /** A step on a fresh minibatch of random points; returns its loss. */
  async step(): Promise<number> {
    const points = Float32Array.from({ length: 2 * BATCH }, () => 2 * this.rand() - 1);
    const values = Float32Array.from({ length: BATCH }, (_, i) => target(points[2 * i], points[2 * i + 1]));
    const x = np.array(features(points), { shape: [BATCH, 2 * FREQUENCIES] });
    const y = np.array(values, { shape: [BATCH, 1] });
    const [params, state, loss] = trainStep(this.params, this.state, x, y);
    this.params = params;
    this.state = state;
    return (await loss.data())[0];
  }

  /** The model's values on the grid. */
  async predict(grid: np.Array): Promise<Float32Array> {
    return Float32Array.from(await predict(tree.ref(this.params), grid.ref).data());
  }

  dispose(): void {
    tree.dispose(this.params);
    tree.dispose(this.state as unknown as JsTree<np.Array>);
  }
}

/** Draws `values` (GRID x GRID, row by row) on a diverging scale: navy below zero, orange above. */
function drawField(canvas: HTMLCanvasElement, values: ArrayLike<number>, scale: number): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(GRID, GRID);
  const [low, middle, high] = [
    [29, 53, 87],
    [241, 243, 238],
    [231, 111, 81],
  ];
  for (let p = 0; p < GRID * GRID; p++) {
    const s = Math.max(-1, Math.min(1, values[p] / scale));
    const end = s < 0 ? low : high;
    for (let c = 0; c < 3; c++) image.data[4 * p + c] = Math.round(middle[c] + Math.abs(s) * (end[c] - middle[c]));
    image.data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

const formatBytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

function showMemory(run: Run): void {
  // Adam keeps m and v per parameter (float32), and a step count.
  const bytes = { adafactor: run.stateBytes, adam: 8 * run.parameters + 4 };
  window.jaxDemo.stateBytes = bytes;
  window.jaxDemo.parameters = run.parameters;
  const ratio = bytes.adafactor / bytes.adam;
  $('stateRatio').textContent = `${(100 * ratio).toFixed(2)}%`;
  $('adafactorState').textContent = formatBytes(bytes.adafactor);
  $('adamState').textContent = formatBytes(bytes.adam);
  $('adafactorBar').style.width = `${Math.min(100, 100 * ratio)}%`;
  $('adamBar').style.width = '100%';
  $('memoryNote').textContent =
    `${run.parameters.toLocaleString('en-US')} parameters. Adam would keep two floats per parameter; Adafactor's state (every array of it, counted here) is a row and a column of second-moment statistics per weight matrix, one value per bias entry, a step count and a few statistics per tensor.`;
}

/** The loss over the steps (log scale); the legend shows the latest value. */
function lossChart(element: HTMLElement): { add: (step: number, loss: number) => void; clear: () => void } {
  const data: number[][] = [[], []];
  const showLatest = (u: uPlot) => {
    const last = data[0].length - 1;
    if (u.cursor.idx == null && last >= 0 && u.legend.idx !== last) u.setLegend({ idx: last }, false);
  };
  const height = (width: number) => (width < 500 ? 200 : 260);
  const plot = new uPlot(
    {
      width: element.clientWidth,
      height: height(element.clientWidth),
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [
        { label: 'step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000] },
        { label: 'loss (MSE, log scale)' },
      ],
      series: [
        { label: 'step' },
        {
          label: 'Adafactor',
          stroke: '#e76f51',
          width: 2,
          value: (_u, v) => (v == null ? '--' : v.toExponential(2)),
        },
      ],
      hooks: { setLegend: [showLatest] },
    },
    data as uPlot.AlignedData,
    element,
  );
  new ResizeObserver(() => {
    if (element.clientWidth !== plot.width)
      plot.setSize({ width: element.clientWidth, height: height(element.clientWidth) });
  }).observe(element);
  return {
    add(step, loss) {
      data[0].push(step);
      data[1].push(loss);
      plot.setData(data as uPlot.AlignedData);
      showLatest(plot);
    },
    clear() {
      data.forEach((series) => (series.length = 0));
      plot.setData(data as uPlot.AlignedData);
    },
  };
}

/**
 * A new task: on the wasm device a step's `await` resolves without leaving the task, and a loop of
 * them would never let the page draw or take a click.
 */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

/** Steps per second over the last few seconds. */
function stepRate(windowMs = 10_000): { tick: () => number | null } {
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
  const d = window.jaxDemo;
  const hasWebgpu = (await init('webgpu')).includes('webgpu');
  if (!hasWebgpu && !(await init('wasm')).includes('wasm')) {
    $('app').hidden = true;
    setStatus('jax-js found neither WebGPU nor WebAssembly in this browser.', 'error');
    return;
  }
  const device = hasWebgpu ? 'webgpu' : 'wasm';
  defaultDevice(device);
  d.device = device;
  const deviceLine = $('device');
  deviceLine.hidden = false;
  deviceLine.textContent = hasWebgpu
    ? "jax-js device: webgpu (jit fuses each step into jax-js's WebGPU kernels)."
    : 'No WebGPU in this browser: jax-js trains on its wasm device (the CPU) instead. A browser with WebGPU (recent Chrome or Edge, Safari 26) runs it on the GPU.';
  setStatus(`Compiling the jitted step on ${device} and running it…`, 'busy');

  const targetValues = (() => {
    const points = gridPoints();
    return Float32Array.from({ length: GRID * GRID }, (_, p) => target(points[2 * p], points[2 * p + 1]));
  })();
  const scale = Math.max(...targetValues.map(Math.abs));
  drawField($('target'), targetValues, scale);
  const grid = np.array(features(gridPoints()), { shape: [GRID * GRID, 2 * FREQUENCIES] });
  const chart = lossChart($('chart'));
  let run = new Run();
  showMemory(run);

  let running = true;
  let generation = 0;
  let looping = false;
  let loopDone = Promise.resolve();
  let lastRedraw = -Infinity;
  let rate = stepRate();

  async function redraw(): Promise<void> {
    const step = d.step;
    drawField($('fit'), await run.predict(grid), scale);
    lastRedraw = performance.now();
    d.renderedStep = step;
    document.querySelector<HTMLElement>('.pending')!.hidden = true;
    $('fitCaption').textContent = `after ${step} step${step === 1 ? '' : 's'}`;
  }

  function showProgress(): void {
    if (!running) return;
    const speed = d.stepsPerSecond > 0 ? `${d.stepsPerSecond.toFixed(1)} steps/s` : 'measuring speed';
    setStatus(`Training on ${device}: step ${d.step} · ${speed} · loss ${d.loss.toExponential(2)}`, 'running');
  }

  async function train(mine: number): Promise<void> {
    looping = true;
    d.running = true;
    try {
      while (running && mine === generation && d.error === null) {
        const loss = await run.step();
        await nextTask();
        if (mine !== generation) break;
        d.step++;
        d.loss = loss;
        d.losses.push(loss);
        chart.add(d.step, loss);
        if (d.step === 1) rate = stepRate(); // the first step compiled the kernels
        d.stepsPerSecond = rate.tick() ?? d.stepsPerSecond;
        if (performance.now() - lastRedraw >= REDRAW_MS) await redraw();
        showProgress();
      }
      if (mine === generation && d.error === null && d.renderedStep < d.step) await redraw();
    } finally {
      looping = false;
      d.running = false;
    }
    if (mine !== generation) return;
    if (running) start();
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
  reset.onclick = async () => {
    reset.disabled = true;
    setStatus('Resetting: the MLP starts again from the same initial weights…', 'busy');
    generation++;
    await loopDone;
    run.dispose();
    run = new Run();
    Object.assign(d, { step: 0, losses: [], loss: NaN, renderedStep: 0, stepsPerSecond: 0 });
    chart.clear();
    lastRedraw = -Infinity;
    $<HTMLCanvasElement>('fit').getContext('2d')!.clearRect(0, 0, GRID, GRID);
    document.querySelector<HTMLElement>('.pending')!.hidden = false;
    $('fitCaption').textContent = '\u00a0';
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
