/**
 * What a set of runs shows: the table, and a line per claim of Shazeer & Stern (2018), computed
 * from the results. Pure functions: the page and `npm run paper` both use them.
 */
import type { StatsPoint } from './train.js';

export interface ReportRow {
  name: string;
  finalLoss: number;
  stateBytes: number;
  stepsPerSecond: number;
  losses: number[];
  stats?: StatsPoint[];
}

export const formatBytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
const percent = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;

/** The table in Markdown: final loss, its ratio to Adam's, state bytes and their share of Adam's, steps/s. */
export function formatTable(rows: ReportRow[]): string {
  const adam = rows.find((r) => r.name === 'adam');
  const lines = [
    '| # | configuration | steps | final loss | / Adam | state | / Adam | steps/s |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  rows.forEach((r, i) => {
    lines.push(
      `| ${i + 1} | ${r.name} | ${r.losses.length} | ${r.finalLoss.toFixed(4)} | ${adam ? (r.finalLoss / adam.finalLoss).toFixed(3) : '--'} | ` +
        `${formatBytes(r.stateBytes)} | ${adam ? percent(r.stateBytes / adam.stateBytes) : '--'} | ${r.stepsPerSecond.toFixed(2)} |`,
    );
  });
  return lines.join('\n');
}

/** Relative difference of a from b. */
const relative = (a: number, b: number) => (a - b) / b;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
/** Within this relative difference, two final losses count as similar. */
export const SIMILAR = 0.05;
/** Claim 3's bar: Adafactor's final loss within this much of Adam's. */
export const COMPARABLE = 0.15;

const maxUpdateRms = (row: ReportRow | undefined) => Math.max(0, ...(row?.stats ?? []).map((s) => s.updateRms));
const finite = (row: ReportRow) => row.losses.every(Number.isFinite);
/** The highest loss after the first step: how far a run was thrown back. */
const peakLoss = (row: ReportRow) => Math.max(...row.losses.slice(1));

/**
 * One line per claim, from whichever runs are there (a claim whose runs are missing says so).
 * A claim is "supported" when the numbers named in its line meet the stated bar.
 */
export function claims(rows: ReportRow[]): string[] {
  const get = (name: string) => rows.find((r) => r.name === name && r.losses.length > 0);
  const [adam, factored, full, momentum] = ['adam', 'adafactor', 'full-second-moment', 'momentum'].map(get);
  const [slow, slowClip, increasing, external] = [
    'slow-decay',
    'slow-decay+clip',
    'increasing-decay',
    'external-lr',
  ].map(get);
  const out: string[] = [];
  const missing = (what: string) => `not run (needs ${what})`;

  if (factored && full) {
    const d = relative(factored.finalLoss, full.finalLoss);
    out.push(
      `Claim 1 (factored second moment ~ full): final loss ${factored.finalLoss.toFixed(4)} factored vs ${full.finalLoss.toFixed(4)} full (${signed(d)}), ` +
        `with ${formatBytes(factored.stateBytes)} of state against ${formatBytes(full.stateBytes)}: ${Math.abs(d) <= SIMILAR ? 'supported' : 'not supported'} (bar: within ${percent(SIMILAR)}).`,
    );
  } else out.push(`Claim 1: ${missing('configurations 2 and 3')}.`);

  if (slow && slowClip && increasing) {
    const worse = (r: ReportRow) => !finite(r) || r.finalLoss > slow.finalLoss;
    const fixes = [slowClip, increasing].filter(
      (r) => (finite(r) && relative(slow.finalLoss, r.finalLoss) > SIMILAR) || (!finite(slow) && finite(r)),
    );
    const large = maxUpdateRms(slow) > 2 * Math.max(1, maxUpdateRms(increasing));
    out.push(
      `Claim 2 (slow decay makes updates too large; clipping or an increasing decay fixes it): with beta2 = 0.999 and no clipping RMS(U) reached ${maxUpdateRms(slow).toFixed(2)} ` +
        `(increasing decay: ${maxUpdateRms(increasing).toFixed(2)}) and the loss peaked at ${peakLoss(slow).toFixed(3)} after the first step ` +
        `(with clipping ${peakLoss(slowClip).toFixed(3)}, with the increasing decay ${peakLoss(increasing).toFixed(3)}); final loss ${finite(slow) ? slow.finalLoss.toFixed(4) : 'not finite'}, ` +
        `with clipping ${slowClip.finalLoss.toFixed(4)}, with the increasing decay ${increasing.finalLoss.toFixed(4)}. ` +
        `Updates too large: ${large ? 'observed' : 'not observed'}; remedies: ` +
        `${fixes.length === 2 ? 'supported, both end more than ' + percent(SIMILAR) + ' lower' : fixes.length === 1 ? `partly supported, only ${fixes[0].name} ends more than ${percent(SIMILAR)} lower` : worse(slowClip) && worse(increasing) ? 'not supported, neither ends lower' : `not shown in the final loss at this length (no remedy ends more than ${percent(SIMILAR)} lower)`}.`,
    );
  } else out.push(`Claim 2: ${missing('configurations 5, 6 and 7')}.`);

  if (adam && factored) {
    const d = relative(factored.finalLoss, adam.finalLoss);
    out.push(
      `Claim 3 (no momentum, tiny state, comparable to Adam): Adafactor's defaults end at ${factored.finalLoss.toFixed(4)} against Adam's ${adam.finalLoss.toFixed(4)} (${signed(d)}) ` +
        `with ${percent(factored.stateBytes / adam.stateBytes)} of Adam's optimizer state${momentum ? ` (with momentum: ${momentum.finalLoss.toFixed(4)})` : ''}: ` +
        `${d <= COMPARABLE ? 'supported' : 'not supported'} (bar: within ${percent(COMPARABLE)} of Adam's final loss).`,
    );
  } else out.push(`Claim 3: ${missing('configurations 1 and 2')}.`);

  if (factored && external) {
    const d = relative(factored.finalLoss, external.finalLoss);
    out.push(
      `Claim 4 (relative step works): relative step with parameter scaling ends at ${factored.finalLoss.toFixed(4)}, an external warm-up and 1/sqrt(t) schedule without scaling at ${external.finalLoss.toFixed(4)} (${signed(d)}): ` +
        `${d <= SIMILAR ? 'supported' : 'not supported'} (bar: no more than ${percent(SIMILAR)} above the external schedule).`,
    );
  } else out.push(`Claim 4: ${missing('configurations 2 and 8')}.`);
  return out;
}
