/** The experiment every configuration shares: model shape, batch, seeds. */
import { makeCorpus } from './corpus.js';
import { type ModelShape, initialWeights } from './model.js';
import type { Setup } from './train.js';

/** Default steps of one configuration (`npm run paper` and the page). */
export const DEFAULT_STEPS = 24;

/**
 * 1,005,824 parameters (5 blocks 128 wide, 4 heads, MLP 512; 70 characters) on minibatches of 4
 * windows of 16 characters. Sized for headless Chromium on SwiftShader on a 2-core machine
 * without a GPU, where tfjs's matmul shaders dominate and a step of this model takes about 2.7 s
 * (the same model on 8 x 32 characters, or 192 wide in 3 blocks, took 10 to 14 s).
 */
export function makeSetup(): Setup {
  const corpus = makeCorpus();
  const shape: ModelShape = {
    vocabulary: corpus.vocabulary.length,
    context: 16,
    width: 128,
    heads: 4,
    layers: 5,
    mlp: 4 * 128,
  };
  return { shape, batch: 4, weights: initialWeights(shape, 17), corpus, batchSeed: 2018 };
}
