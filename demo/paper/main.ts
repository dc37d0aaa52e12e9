/**
 * The paper page: the eight configurations of ./configs.ts trained one after the other on
 * tfjs's webgpu backend, with live loss curves, the results table, Adafactor's step on one weight
 * matrix, and a line per claim computed from the runs. `window.paper` drives it from puppeteer
 * (`npm run paper`, test/browser/paper.test.ts).
 */
import '@tensorflow/tfjs-backend-webgpu';
// Gradients of every op (tfjs-layers imports this; a model in tfjs-core ops must).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { CONFIGS } from './configs.js';
import { type PaperResult, type PaperRunOptions, runExperiment } from './experiment.js';
import { parameterCount } from './model.js';
import { claims, formatBytes } from './report.js';
import { DEFAULT_STEPS, makeSetup } from './setup.js';
import { type RunResult, WATCHED } from './train.js';

export type { PaperResult, PaperRunOptions } from './experiment.js';

declare global {
  interface Window {
    paper: {
      ready: boolean;
      running: boolean;
      error: string | null;
      run: (options: PaperRunOptions) => Promise<PaperResult>;
    };
    /** Set by a driver (puppeteer's exposeFunction) to receive progress lines. */
    paperProgress?: (line: string) => void;
    /** Set by a driver to receive the result of a run it started, or its error. */
    paperDone?: (result: PaperResult) => void;
    paperFailed?: (message: string) => void;
  }
}

const COLORS = ['#1d3557', '#e76f51', '#2a9d8f', '#8338ec', '#d62828', '#f4a261', '#3a86ff', '#6a994e'];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusText = $<HTMLSpanElement>('statusText');
const startButton = $<HTMLButtonElement>('start');
const pauseButton = $<HTMLButtonElement>('pause');
const stepsInput = $<HTMLInputElement>('steps');
stepsInput.value = String(DEFAULT_STEPS);

function status(text: string, kind: 'busy' | 'running' | 'error' | 'idle') {
  statusText.textContent = text;
  $('status').dataset.kind = kind;
}

const checkboxes = CONFIGS.map((config, i) => {
  const label = document.createElement('label');
  label.title = config.description;
  label.innerHTML = `<input type="checkbox" checked /> <span class="swatch" style="background:${COLORS[i]}"></span>${i + 1}. <b>${config.name}</b>: ${config.description}`;
  $('configs').append(label);
  return label.querySelector('input')!;
});

/** A chart with one series per configuration over steps 1..n, filled in as runs go. */
function configChart(element: HTMLElement, yLabel: string, height: number) {
  const data: (number | null)[][] = [[], ...CONFIGS.map(() => [])];
  const plot = new uPlot(
    {
      width: element.clientWidth,
      height,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [
        { label: 'step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000] },
        {
          label: yLabel,
          size: 60,
          values: (_u, splits) => splits.map((v) => (v == null ? '' : Number(v.toPrecision(2)).toString())),
        },
      ],
      series: [
        { label: 'step' },
        ...CONFIGS.map((c, i) => ({
          label: c.name,
          stroke: COLORS[i],
          width: 1.5,
          spanGaps: true,
          value: (_: uPlot, v: number | null) => (v == null ? '--' : v.toPrecision(4)),
        })),
      ],
    },
    data as uPlot.AlignedData,
    element,
  );
  new ResizeObserver(() => {
    if (element.clientWidth !== plot.width) plot.setSize({ width: element.clientWidth, height });
  }).observe(element);
  let dirty = false;
  return {
    reset(steps: number) {
      data[0] = Array.from({ length: steps }, (_, i) => i + 1);
      for (let c = 1; c < data.length; c++) data[c] = new Array(steps).fill(null);
      plot.setData(data as uPlot.AlignedData);
    },
    set(config: number, step: number, value: number) {
      // uPlot's log scale cannot show values <= 0 or non-finite ones: those stay gaps.
      data[config + 1][step - 1] = Number.isFinite(value) && value > 0 ? value : null;
      dirty = true;
    },
    /** Redraws if something changed (at most a few times a second: see the caller). */
    draw() {
      if (dirty) plot.setData(data as uPlot.AlignedData);
      dirty = false;
    },
  };
}

const lossChart = configChart($('lossChart'), 'loss (log)', 300);
const alphaChart = configChart($('alphaChart'), 'αₜ (log)', 200);
const rmsChart = configChart($('rmsChart'), 'RMS(U) (log)', 200);
$('watched').textContent = WATCHED;

function showResults(results: (RunResult | undefined)[]) {
  const done = results.filter((r): r is RunResult => r !== undefined);
  const adam = done.find((r) => r.name === 'adam');
  const most = Math.max(1, ...done.map((r) => r.stateBytes));
  $('results').querySelector('tbody')!.innerHTML = results
    .map((r, i) =>
      r
        ? `<tr><td>${i + 1}</td><td style="color:${COLORS[i]}">${r.name}</td><td>${r.losses.length}</td><td>${r.finalLoss.toFixed(4)}</td>` +
          `<td><span class="bar" style="width:${(6 * r.stateBytes) / most}rem;background:${COLORS[i]}"></span>${formatBytes(r.stateBytes)}${adam ? ` (${((100 * r.stateBytes) / adam.stateBytes).toFixed(2)}% of Adam's)` : ''}</td>` +
          `<td>${r.stepsPerSecond.toFixed(2)}</td></tr>`
        : '',
    )
    .join('');
  const lines = done.length > 0 ? claims(done) : ['Nothing run yet.'];
  $('claims').innerHTML = lines.map((line) => `<li>${line.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</li>`).join('');
}

let paused: { promise: Promise<void>; resume: () => void } | null = null;
let stopRequested = false;

function setPaused(on: boolean) {
  if (on && !paused) {
    let resume!: () => void;
    const promise = new Promise<void>((done) => (resume = done));
    paused = { promise, resume };
  } else if (!on && paused) {
    paused.resume();
    paused = null;
  }
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
}

async function run(options: PaperRunOptions): Promise<PaperResult> {
  if (window.paper.running) throw new Error('a run is in progress');
  window.paper.running = true;
  stopRequested = false;
  startButton.textContent = 'Stop';
  pauseButton.disabled = false;
  const results: (RunResult | undefined)[] = CONFIGS.map(() => undefined);
  const progress = (line: string) => window.paperProgress?.(line);
  for (const chart of [lossChart, alphaChart, rmsChart]) chart.reset(options.steps);
  showResults(results);
  let lastDraw = 0;
  let lastProgress = 0;
  let started = 0;
  try {
    const result = await runExperiment(options, {
      onConfigStart: (i, config) => {
        started = lastProgress = performance.now();
        status(`Configuration ${i + 1} of ${CONFIGS.length}, ${config.name}: compiling tfjs's shaders`, 'busy');
      },
      onStats: (i, point) => {
        alphaChart.set(i, point.step, point.stepSize);
        rmsChart.set(i, point.step, point.updateRms);
      },
      stopped: () => stopRequested,
      onStep: async (i, step, loss) => {
        const config = CONFIGS[i];
        lossChart.set(i, step, loss);
        const now = performance.now();
        if (now - lastDraw > 250 || step === options.steps) {
          lastDraw = now;
          for (const chart of [lossChart, alphaChart, rmsChart]) chart.draw();
          const rate = step > 1 ? ((step - 1) * 1000) / (now - started) : 0;
          status(
            `Configuration ${i + 1} of ${CONFIGS.length}, ${config.name}: step ${step} of ${options.steps} · loss ${loss.toFixed(3)}${rate ? ` · ${rate.toFixed(2)} steps/s` : ''}`,
            'running',
          );
        }
        if (now - lastProgress > 10_000) {
          lastProgress = now;
          progress(`  ${config.name}: step ${step} of ${options.steps}, loss ${loss.toFixed(4)}`);
        }
        if (paused) {
          status(`Paused at configuration ${i + 1}, ${config.name}, step ${step}`, 'idle');
          await paused.promise;
        }
      },
      onConfigDone: (i, r, seconds) => {
        results[i] = r;
        for (const chart of [lossChart, alphaChart, rmsChart]) chart.draw();
        progress(
          `${i + 1}/${CONFIGS.length} ${r.name}: final loss ${r.finalLoss.toFixed(4)}, state ${r.stateBytes} bytes, ${r.stepsPerSecond.toFixed(2)} steps/s, ${seconds.toFixed(0)} s`,
        );
        showResults(results);
      },
    });
    const count = result.configs.length;
    status(
      `${stopRequested ? 'Stopped' : 'Done'}: ${count} configuration${count === 1 ? '' : 's'} of ${options.steps} steps`,
      'idle',
    );
    return result;
  } catch (error) {
    window.paper.error = error instanceof Error ? error.message : String(error);
    status(`Error: ${window.paper.error}`, 'error');
    throw error;
  } finally {
    window.paper.running = false;
    setPaused(false);
    startButton.textContent = 'Start';
    pauseButton.disabled = true;
  }
}

window.paper = { ready: false, running: false, error: null, run };

startButton.addEventListener('click', () => {
  if (window.paper.running) {
    stopRequested = true;
    setPaused(false);
    return;
  }
  const steps = Math.max(2, Math.round(Number(stepsInput.value)) || DEFAULT_STEPS);
  const configs = checkboxes.flatMap((box, i) => (box.checked ? [i] : []));
  if (configs.length > 0) void run({ steps, configs }).catch(() => {});
});
pauseButton.addEventListener('click', () => setPaused(!paused));

async function start() {
  if (!navigator.gpu) {
    status(
      'This browser has no WebGPU (navigator.gpu is missing): try a recent Chrome or Edge, or Safari or Firefox with WebGPU enabled.',
      'error',
    );
    window.paper.error = 'no WebGPU';
    return;
  }
  if (!(await tf.setBackend('webgpu'))) {
    status("TensorFlow.js could not start its 'webgpu' backend on this browser.", 'error');
    window.paper.error = 'no tfjs webgpu backend';
    return;
  }
  const setup = makeSetup();
  const { shape, batch, corpus } = setup;
  $('about').textContent =
    `The model: ${parameterCount(setup.weights).toLocaleString('en')} parameters; ${shape.layers} pre-norm blocks of ${shape.heads}-head causal self-attention and a ReLU MLP ` +
    `(${shape.width} wide, ${shape.mlp} hidden), token and position embeddings, a vocabulary of the ${shape.vocabulary} characters of the text (${corpus.tokens.length.toLocaleString('en')} characters), ` +
    `minibatches of ${batch} windows of ${shape.context} characters. Forward and backward run on the GPU through tfjs; each optimizer steps the same tf.variables through optimizer.minimize.`;
  status('Ready: pick configurations and press Start.', 'idle');
  startButton.disabled = false;
  window.paper.ready = true;
}

void start();
