/**
 * The text the model learns, character by character: the Apache License 2.0 as TypeScript's
 * package ships it (node_modules/typescript/LICENSE.txt), bundled at build time, never fetched.
 * Whitespace runs become one space; the vocabulary is the characters that occur.
 */
import licence from 'typescript/LICENSE.txt?raw';
import { random } from '../image.js';

export interface Corpus {
  /** The characters, in order of their token ids. */
  vocabulary: string[];
  /** The text as token ids. */
  tokens: Int32Array;
}

export function makeCorpus(text: string = licence): Corpus {
  const clean = text.replace(/\s+/g, ' ').trim();
  const vocabulary = [...new Set(clean)].sort();
  const id = new Map(vocabulary.map((c, i) => [c, i]));
  return { vocabulary, tokens: Int32Array.from(clean, (c) => id.get(c)!) };
}

/** The picture demo's seeded generator (mulberry32), shared. */
export { random };

/**
 * The minibatches, the same for every configuration: `batch` windows of `context + 1` tokens at
 * seeded random offsets; inputs are the first `context`, targets the last `context`.
 */
export function* batches(
  corpus: Corpus,
  batch: number,
  context: number,
  seed: number,
): Generator<{ inputs: Int32Array; targets: Int32Array }> {
  const rand = random(seed);
  const n = corpus.tokens.length - context - 1;
  for (;;) {
    const inputs = new Int32Array(batch * context);
    const targets = new Int32Array(batch * context);
    for (let b = 0; b < batch; b++) {
      const start = Math.floor(rand() * n);
      inputs.set(corpus.tokens.subarray(start, start + context), b * context);
      targets.set(corpus.tokens.subarray(start + 1, start + context + 1), b * context);
    }
    yield { inputs, targets };
  }
}
