/**
 * `npm run paper -- --engine node --steps 5`, as a user runs it: the paper's Transformer trained
 * under each configuration on tfjs's webgpu backend in Node (Dawn), with every loss finite and
 * falling, and a JSON file of the same shape as the Chromium engine's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { PAPER_JSON_SHAPE, expectPaperRun, jsonShape } from '../gpu/paper-json.js';

const STEPS = 5;

it(`npm run paper -- --engine node --steps ${STEPS}: every configuration trains, with the Chromium engine's JSON`, () => {
  const folder = mkdtempSync(join(tmpdir(), 'paper-node-'));
  try {
    const file = join(folder, 'paper.json');
    const run = spawnSync('npm', ['run', 'paper', '--', '--engine', 'node', '--steps', String(STEPS), '--json', file], {
      cwd: resolve(import.meta.dirname, '../..'),
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (run.status !== 0) throw new Error(`npm run paper exited with ${run.status ?? run.signal}:\n${run.stderr}`);
    console.log(run.stdout);
    expect(run.stdout).toMatch(/engine node; wall time \d+ s/);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expectPaperRun(json, STEPS);
    expect(json.engine).toBe('node');
    expect(jsonShape(json)).toEqual(PAPER_JSON_SHAPE);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}, 600_000);
