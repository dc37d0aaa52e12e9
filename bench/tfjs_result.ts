/**
 * The TensorFlow.js side-by-side's result and its table. Kept apart from bench/tfjs.ts, which runs
 * it in the page, so that the Node scripts can print the table without bundling tfjs.
 */

/** The case's name for `--case`: it runs in `npm run bench:browser` only. */
export const TFJS_CASE = 'tfjs';

export interface TfjsMethodResult {
  method: string;
  /** Median, min and max over every timed step of every round. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median over rounds of (tf.train.adam's median step / this method's median step) in that round. */
  timesFasterThanAdam: number;
}

export interface TfjsCaseResult {
  name: string;
  params: number;
  tensors: number;
  methods: TfjsMethodResult[];
  /** tf.memory().numTensors after warm-up; checked to be the same after every round. */
  numTensors: number;
}

export interface TfjsResult {
  backend: 'webgpu';
  /** tfjs-core's version. */
  version: string;
  /** Each step: wall time from before the call until onSubmittedWorkDone after tfjs's commands are submitted. */
  timer: 'wall time to onSubmittedWorkDone';
  steps: number;
  rounds: number;
  cases: TfjsCaseResult[];
}

export function formatTfjsTable(result: TfjsResult): string {
  const lines = [
    `TensorFlow.js ${result.version}, ${result.backend} backend, all on its GPUDevice; ${result.timer}; ${result.rounds} round(s) of ${result.steps} steps per method:`,
    '',
    '| case | params | tensors | method | median (min-max) ms per step | x faster than tf.train.adam |',
    '|---|---:|---:|---|---:|---:|',
  ];
  for (const c of result.cases) {
    for (const m of c.methods) {
      lines.push(
        `| ${c.name} | ${c.params.toLocaleString('en-US')} | ${c.tensors} | ${m.method} | ${m.medianMs.toFixed(2)} (${m.minMs.toFixed(2)}-${m.maxMs.toFixed(2)}) | ${m.timesFasterThanAdam.toFixed(2)} |`,
      );
    }
  }
  return lines.join('\n');
}
