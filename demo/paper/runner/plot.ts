/**
 * `npm run paper:plot -- --png OUT.png RUN.json [SEED_RUN.json ...]`: the loss curves of
 * `npm run paper --json` runs as a PNG, drawn as SVG and rendered by headless Chromium. The first
 * file gives every configuration's curve; further files (runs of some configurations on other
 * minibatch seeds) add, for those configurations, the band from the lowest to the highest curve
 * over all the files' seeds. Curves are the trailing mean of 20 steps' losses.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from '../../../tools/chromium.js';

interface RunFile {
  steps: number;
  shape: { batchSeed: number };
  configs: { name: string; losses: number[] }[];
}

const COLORS = ['#1d3557', '#e76f51', '#2a9d8f', '#8338ec', '#d62828', '#f4a261', '#3a86ff', '#6a994e'];
const WINDOW = 20;

/** The trailing mean of `WINDOW` values at each step. */
function smooth(values: readonly number[]): number[] {
  return values.map((_, i) => {
    const from = Math.max(0, i - WINDOW + 1);
    const part = values.slice(from, i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}

export function lossChart(runs: readonly RunFile[], width = 1200, height = 640): string {
  const [main, ...others] = runs;
  const pad = { left: 70, right: 290, top: 40, bottom: 50 };
  const curves = main.configs.map((c) => smooth(c.losses));
  const steps = main.steps;
  const all = curves.flat().filter(Number.isFinite);
  const [lo, hi] = [Math.min(...all), Math.min(Math.max(...all), 4.5)];
  const x = (step: number) => pad.left + ((step - 1) / (steps - 1)) * (width - pad.left - pad.right);
  const y = (loss: number) => pad.top + ((hi - Math.min(loss, hi)) / (hi - lo)) * (height - pad.top - pad.bottom);
  const path = (values: readonly number[]) =>
    values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const parts: string[] = [];
  // Bands over seeds, where other runs have the configuration.
  main.configs.forEach((c, k) => {
    const seeds = others.map((r) => r.configs.find((o) => o.name === c.name)).filter((o) => o !== undefined);
    if (seeds.length === 0) return;
    const smoothed = [curves[k], ...seeds.map((o) => smooth(o!.losses))];
    const low = curves[k].map((_, i) => Math.min(...smoothed.map((s) => s[i])));
    const high = curves[k].map((_, i) => Math.max(...smoothed.map((s) => s[i])));
    const back = high.map((v, i) => ({ v, i })).reverse();
    const d = path(low) + back.map(({ v, i }) => `L${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join('') + 'Z';
    parts.push(`<path d="${d}" fill="${COLORS[k]}" fill-opacity="0.18" stroke="none"/>`);
  });
  curves.forEach((values, k) =>
    parts.push(`<path d="${path(values)}" fill="none" stroke="${COLORS[k]}" stroke-width="1.8"/>`),
  );
  // Axes and ticks.
  const ticks: string[] = [];
  for (let v = Math.ceil(lo * 2) / 2; v <= hi; v += 0.5)
    ticks.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  for (let s = 0; s <= steps; s += steps / 5)
    ticks.push(`<text x="${x(Math.max(1, s))}" y="${height - pad.bottom + 20}" text-anchor="middle">${s}</text>`);
  const legend = main.configs.map((c, k) => {
    const banded = others.some((r) => r.configs.some((o) => o.name === c.name));
    const last = curves[k].at(-1)!;
    return `<rect x="${width - pad.right + 16}" y="${pad.top + k * 24 - 10}" width="14" height="14" fill="${COLORS[k]}"/><text x="${width - pad.right + 36}" y="${pad.top + k * 24 + 2}">${k + 1}. ${c.name} ${last.toFixed(3)}${banded ? ' *' : ''}</text>`;
  });
  // Two lines, so that the note fits the legend's column.
  const seedsLines =
    others.length > 0
      ? [
          '* band: lowest to highest over',
          `minibatch seeds ${[main, ...others].map((r) => r.shape.batchSeed).join(', ')}`,
        ]
      : [];
  const footnote = seedsLines.map(
    (line, i) =>
      `<text x="${width - pad.right + 16}" y="${pad.top + main.configs.length * 24 + 12 + i * 15}" font-size="11">${line}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad.left}" y="24" font-size="15">Training loss (trailing mean of ${WINDOW} steps), minibatch seed ${main.shape.batchSeed}, ${steps} steps per configuration</text>
${ticks.join('\n')}
<line x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#888"/>
<line x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}" stroke="#888"/>
<text x="${(pad.left + width - pad.right) / 2}" y="${height - 10}" text-anchor="middle">step</text>
${parts.join('\n')}
${legend.join('\n')}
${footnote.join('\n')}
</svg>`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--png');
  const png = at >= 0 ? args[at + 1] : undefined;
  const files = args.filter((_, i) => i !== at && i !== at + 1);
  if (!png || files.length === 0)
    throw new Error('usage: npm run paper:plot -- --png OUT.png RUN.json [SEED_RUN.json ...]');
  const svg = lossChart(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 640 });
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    writeFileSync(png, await page.screenshot({ type: 'png' }));
    console.error(`wrote ${png}`);
  } finally {
    await browser.close();
  }
}

await main();
