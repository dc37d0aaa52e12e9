/** `npm run paper`'s arguments and report, apart from main.ts so that they can be tested and type-checked. */
import type { PaperResult } from '../main.js';
import { DEFAULT_STEPS } from '../setup.js';

export interface PaperArgs {
  steps: number;
  json?: string;
}

export function parseArgs(args: string[]): PaperArgs {
  let steps = DEFAULT_STEPS;
  let json: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] === '--steps') {
      steps = Number(value);
      if (!Number.isSafeInteger(steps) || steps < 2) throw new Error(`--steps needs an integer >= 2, got ${value}`);
      i++;
    } else if (args[i] === '--json') {
      if (!value) throw new Error('--json needs a file name');
      json = value;
      i++;
    } else throw new Error(`unknown argument ${args[i]}; usage: npm run paper [-- --steps N --json FILE]`);
  }
  return { steps, json };
}

/** What `npm run paper` prints on stdout: the model, the table, the claims. */
export function formatReport(result: PaperResult, steps: number, seconds: number): string {
  const s = result.shape;
  return [
    `Transformer LM: ${result.parameters.toLocaleString('en')} parameters (${s.layers} blocks, width ${s.width}, ${s.heads} heads, MLP ${s.mlp}, ` +
      `context ${s.context}, vocabulary ${s.vocabulary}), batch ${s.batch}, ${steps} steps per configuration; wall time ${seconds.toFixed(0)} s`,
    '',
    result.table,
    '',
    ...result.claims.map((line) => `- ${line}`),
  ].join('\n');
}

/** The JSON file: `{ configs: [{ name, finalLoss, stateBytes, stepsPerSecond, losses, stats }] }` in the run's order, with the model and the claims. */
export function jsonReport(result: PaperResult, steps: number): string {
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
      { parameters: result.parameters, shape: result.shape, steps, claims: result.claims, configs },
      null,
      2,
    ) + '\n'
  );
}
