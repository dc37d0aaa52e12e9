/**
 * The jax-js side-by-side's result and its table. Kept apart from bench/jax.ts, which runs it in
 * the page, so that the Node scripts can print the table without bundling jax-js.
 */

/** The case's name for `--case`: it runs in `npm run bench:browser` only, and only when named. */
export const JAX_CASE = 'jax';

/** What the Adam it is compared with is: jax-js optax's adam is not installable, so the page writes its update. */
export const JAX_ADAM_LABEL =
  "Adam in jax-js ops (the update of jax-js optax's adam; @jax-js/optax is not on the registry)";

export interface JaxMethodResult {
  method: string;
  /** Median, min and max over every timed step of every round. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** The state's arrays' elements times 4 (every state array here is a 4-byte dtype). */
  stateBytes: number;
  /** How many arrays the state holds. */
  stateArrays: number;
}

export interface JaxResult {
  /** The jax-js device the model and both optimizers ran on. */
  device: 'webgpu' | 'wasm';
  /** Why the device is not webgpu, where it is not. */
  fallback?: string;
  /** The model's layer widths, input first. */
  layers: number[];
  params: number;
  tensors: number;
  steps: number;
  rounds: number;
  /** Adafactor first, then Adam. */
  methods: JaxMethodResult[];
  /** Median over rounds of (Adafactor's median step / Adam's median step) in that round. */
  adafactorOverAdam: number;
}

export function formatJaxTable(result: JaxResult): string {
  const [adafactor, adam] = result.methods;
  const lines = [
    `jax-js on its ${result.device} device${result.fallback ? ` (${result.fallback})` : ''}: an MLP ${result.layers.join('-')}, one jitted optimizer step (update + applyUpdates) on gradients computed once, each step timed to blockUntilReady; ${result.rounds} round(s) of ${result.steps} steps per optimizer, interleaved:`,
    '',
    '| case | params | tensors | optimizer | median (min-max) ms per step | time / Adam | state bytes | state / Adam |',
    '|---|---:|---:|---|---:|---:|---:|---:|',
  ];
  for (const m of result.methods) {
    const ratio = m === adafactor ? result.adafactorOverAdam.toFixed(2) : '1.00';
    lines.push(
      `| jax | ${result.params.toLocaleString('en-US')} | ${result.tensors} | ${m.method} | ${m.medianMs.toFixed(2)} (${m.minMs.toFixed(2)}-${m.maxMs.toFixed(2)}) | ${ratio} | ${m.stateBytes.toLocaleString('en-US')} | ${((100 * m.stateBytes) / adam.stateBytes).toFixed(2)}% |`,
    );
  }
  return lines.join('\n');
}
