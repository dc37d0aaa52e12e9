/**
 * The text the model learns, character by character: the Apache License 2.0 as TypeScript's
 * package ships it (node_modules/typescript/LICENSE.txt), bundled at build time, never fetched.
 * Whitespace runs become one space; the vocabulary is the characters that occur.
 */
import licence from 'typescript/LICENSE.txt?raw';

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

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The minibatches, the same for every configuration: `batch` windows of `context + 1` tokens at
 * seeded random offsets; inputs are the first `context`, targets the last `context`.
 */
export function* batches(corpus: Corpus, batch: number, context: number, seed: number): Generator<{ inputs: Int32Array; targets: Int32Array }> {
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
