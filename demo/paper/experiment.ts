/**
 * The experiment of the paper page, with no page: the configurations of ./configs.ts trained one
 * after the other from the same initial weights on the same minibatches, on tfjs's current
 * backend, and the report (table and claims) made from the runs. The page (./main.ts) draws it
 * as it goes; `npm run paper` runs it in headless Chromium or in Node (./runner/).
 */
import { CONFIGS, type PaperConfig } from './configs.js';
import { parameterCount } from './model.js';
import { claims, formatTable } from './report.js';
import { makeSetup } from './setup.js';
import { type RunResult, type StatsPoint, train } from './train.js';

/** Reads stats() at steps 1-3 and about 40 times more in a run: the same steps every run. */
export const statsEvery = (steps: number) => Math.max(1, Math.round(steps / 40));

export interface PaperRunOptions {
  steps: number;
  /** Indices into CONFIGS; all by default. */
  configs?: number[];
  /** Read stats() after steps 1-3 and every this many steps (deterministic); by default about once a second. */
  statsEvery?: number;
  /** The seed of the minibatches' order (makeSetup's by default). */
  batchSeed?: number;
}

export interface PaperResult {
  parameters: number;
  shape: ReturnType<typeof makeSetup>['shape'] & { batch: number; textCharacters: number; batchSeed: number };
  configs: RunResult[];
  claims: string[];
  table: string;
}

/** What the caller sees of a run as it goes; every hook is optional. */
export interface ExperimentHooks {
  /** Before configuration `index` starts (tfjs compiles its shaders in its first step). */
  onConfigStart?: (index: number, config: PaperConfig) => void;
  /** After each step, with its loss. Return a promise to hold training (pause). */
  onStep?: (index: number, step: number, loss: number) => void | Promise<void>;
  onStats?: (index: number, point: StatsPoint) => void;
  /** After configuration `index`, with its result and its wall time in seconds. */
  onConfigDone?: (index: number, result: RunResult, seconds: number) => void;
  /** Stop when true: the current configuration ends at this step, and no other starts. */
  stopped?: () => boolean;
  /** End configuration `index` at this step when true; the next one still starts. */
  endConfig?: (index: number) => boolean;
}

export async function runExperiment(options: PaperRunOptions, hooks: ExperimentHooks = {}): Promise<PaperResult> {
  const setup = makeSetup();
  if (options.batchSeed !== undefined) setup.batchSeed = options.batchSeed;
  const chosen = options.configs ?? CONFIGS.map((_, i) => i);
  const done: RunResult[] = [];
  for (const i of chosen) {
    const config = CONFIGS[i];
    let lastStats = -Infinity;
    const statsAt = options.statsEvery
      ? (step: number) => step <= 3 || step % options.statsEvery! === 0
      : (step: number) => step <= 3 || performance.now() - lastStats >= 1000;
    const started = performance.now();
    hooks.onConfigStart?.(i, config);
    const result = await train(setup, config, i, options.steps, {
      statsAt,
      onStats: (point) => {
        lastStats = performance.now();
        hooks.onStats?.(i, point);
      },
      stopped: () => Boolean(hooks.stopped?.() || hooks.endConfig?.(i)),
      onStep: (step, loss) => hooks.onStep?.(i, step, loss),
    });
    done.push(result);
    hooks.onConfigDone?.(i, result, (performance.now() - started) / 1000);
    if (hooks.stopped?.()) break;
  }
  return {
    parameters: parameterCount(setup.weights),
    shape: {
      ...setup.shape,
      batch: setup.batch,
      textCharacters: setup.corpus.tokens.length,
      batchSeed: setup.batchSeed,
    },
    configs: done,
    claims: claims(done),
    table: formatTable(done),
  };
}
