/** `npm run paper`'s arguments and report, apart from main.ts so that they can be tested and type-checked. */
import type { PaperResult } from '../experiment.js';
import { CONFIGS } from '../configs.js';
import { DEFAULT_STEPS } from '../setup.js';

export type PaperEngine = 'chromium' | 'node';
export const ENGINES: readonly PaperEngine[] = ['chromium', 'node'];

export interface PaperArgs {
  steps: number;
  engine: PaperEngine;
  /** Indices into CONFIGS (the command line counts from 1); all when undefined. */
  configs?: number[];
  /** The minibatches' seed; the setup's when undefined. */
  batchSeed?: number;
  json?: string;
}

export const USAGE = 'usage: npm run paper [-- --engine chromium|node --steps N --configs 1,2,3 --seed N --json FILE]';

export function parseArgs(args: string[]): PaperArgs {
  const parsed: PaperArgs = { steps: DEFAULT_STEPS, engine: 'chromium' };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    const flag = args[i];
    if (flag !== '--steps' && flag !== '--json' && flag !== '--engine' && flag !== '--configs' && flag !== '--seed')
      throw new Error(`unknown argument ${flag}; ${USAGE}`);
    if (value === undefined) throw new Error(`${flag} needs a value; ${USAGE}`);
    i++;
    if (flag === '--steps') {
      parsed.steps = Number(value);
      if (!Number.isSafeInteger(parsed.steps) || parsed.steps < 2)
        throw new Error(`--steps needs an integer >= 2, got ${value}`);
    } else if (flag === '--json') {
      parsed.json = value;
    } else if (flag === '--engine') {
      if (!ENGINES.includes(value as PaperEngine)) throw new Error(`--engine is ${ENGINES.join(' or ')}, got ${value}`);
      parsed.engine = value as PaperEngine;
    } else if (flag === '--configs') {
      const numbers = value.split(',').map(Number);
      if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > CONFIGS.length))
        throw new Error(`--configs needs numbers from 1 to ${CONFIGS.length} separated by commas, got ${value}`);
      parsed.configs = numbers.map((n) => n - 1);
    } else {
      parsed.batchSeed = Number(value);
      if (!Number.isSafeInteger(parsed.batchSeed) || parsed.batchSeed < 0)
        throw new Error(`--seed needs an integer >= 0, got ${value}`);
    }
  }
  return parsed;
}

/** What `npm run paper` prints on stdout: the model, the table, the claims. */
export function formatReport(result: PaperResult, steps: number, seconds: number, engine: PaperEngine): string {
  const s = result.shape;
  return [
    `Transformer LM: ${result.parameters.toLocaleString('en')} parameters (${s.layers} blocks, width ${s.width}, ${s.heads} heads, MLP ${s.mlp}, ` +
      `context ${s.context}, vocabulary ${s.vocabulary}), batch ${s.batch}, minibatch seed ${s.batchSeed}, ${steps} steps per configuration; ` +
      `engine ${engine}; wall time ${seconds.toFixed(0)} s`,
    '',
    result.table,
    '',
    ...result.claims.map((line) => `- ${line}`),
  ].join('\n');
}

/**
 * The JSON file, the same for both engines: `{ engine, parameters, shape, steps, claims, configs:
 * [{ name, finalLoss, stateBytes, stepsPerSecond, losses, stats }] }`, configurations in the run's order.
 */
export function jsonReport(result: PaperResult, steps: number, engine: PaperEngine): string {
  const configs = result.configs.map(({ name, finalLoss, stateBytes, stepsPerSecond, losses, stats }) => ({
    name,
    finalLoss,
    stateBytes,
    stepsPerSecond,
    losses,
    stats,
  }));
  return (
    JSON.stringify(
      { engine, parameters: result.parameters, shape: result.shape, steps, claims: result.claims, configs },
      null,
      2,
    ) + '\n'
  );
}
