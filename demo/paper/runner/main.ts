/**
 * `npm run paper [-- --engine chromium|node --steps N --configs 1,2,3 --seed N --json FILE]`: the
 * configurations of demo/paper/configs.ts, one after the other, on tfjs's webgpu backend in
 * headless Chromium (the page, demo/paper.html) or in Node on Dawn; prints the table and the
 * claims (progress on stderr) and writes the run as JSON (cli.ts: jsonReport) to FILE.
 */
import { writeFileSync } from 'node:fs';
import { CONFIGS } from '../configs.js';
import { formatReport, jsonReport, parseArgs } from './cli.js';
import { statsEvery } from '../experiment.js';
import { drivePaper } from './driver.js';
import { runInNode } from './node.js';

const { steps, engine, configs, batchSeed, json } = parseArgs(process.argv.slice(2));
const started = Date.now();
const progress = (line: string) => console.error(line);
console.error(`training ${configs?.length ?? CONFIGS.length} configurations of ${steps} steps on ${engine}`);
const result =
  engine === 'node'
    ? await runInNode({ steps, configs, batchSeed, statsEvery: statsEvery(steps) }, progress)
    : await drivePaper({ steps, configs, batchSeed, onProgress: progress });
console.log(formatReport(result, steps, (Date.now() - started) / 1000, engine));
if (json) {
  writeFileSync(json, jsonReport(result, steps, engine));
  console.error(`wrote ${json}`);
}
// Dawn keeps the process alive while its device lives.
process.exit(0);
