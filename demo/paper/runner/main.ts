/**
 * `npm run paper [-- --steps N --json FILE]`: the eight configurations of demo/paper/configs.ts in
 * headless Chromium, one after the other; prints the table and the claims (progress on stderr)
 * and writes `{ configs: [{ name, finalLoss, stateBytes, stepsPerSecond, losses }] }` to FILE.
 */
import { writeFileSync } from 'node:fs';
import { formatReport, jsonReport, parseArgs } from './cli.js';
import { drivePaper } from './driver.js';

const { steps, json } = parseArgs(process.argv.slice(2));
const started = Date.now();
console.error(`training 8 configurations of ${steps} steps in headless Chromium`);
const result = await drivePaper({ steps, onProgress: (line) => console.error(line) });
console.log(formatReport(result, steps, (Date.now() - started) / 1000));
if (json) {
  writeFileSync(json, jsonReport(result, steps));
  console.error(`wrote ${json}`);
}
