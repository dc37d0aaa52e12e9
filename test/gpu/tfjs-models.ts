/**
 * The small tfjs-layers model that the save-and-resume tests train on either backend, and the
 * round trip a user makes to pause training: save with the optimizer, load back.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AdafactorOptions } from '../../src/core/options.js';
import type { AdafactorOptimizerGroup } from '../../src/tfjs/groups.js';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';

export const makeModel = (): tfl.Sequential =>
  tfl.sequential({
    layers: [tfl.layers.dense({ units: 16, inputShape: [6], activation: 'relu' }), tfl.layers.dense({ units: 3 })],
  });

export const fit = (model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number) =>
  model.fit(x, y, { epochs, batchSize: 16, shuffle: false, verbose: 0 });

/**
 * Training paused for a save, up to the save: from the same initial weights, `uninterrupted`
 * trains `totalEpochs` at once, and `first` its first `firstEpochs` with `optimizer`, whose
 * weights are `saved`. The caller disposes the models and `initial`.
 */
export async function trainUntilSave(
  options: AdafactorOptions,
  x: tf.Tensor,
  y: tf.Tensor,
  totalEpochs: number,
  firstEpochs: number,
  groups: AdafactorOptimizerGroup[] = [],
) {
  const uninterrupted = makeModel();
  const initial = uninterrupted.getWeights().map((w) => w.clone());
  uninterrupted.compile({ optimizer: new AdafactorOptimizer(options, groups), loss: 'meanSquaredError' });
  await fit(uninterrupted, x, y, totalEpochs);

  const first = makeModel();
  first.setWeights(initial);
  const optimizer = new AdafactorOptimizer(options, groups);
  first.compile({ optimizer, loss: 'meanSquaredError' });
  await fit(first, x, y, firstEpochs);
  const saved = await optimizer.getWeights();
  return { uninterrupted, initial, first, optimizer, saved };
}

const base64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

/**
 * Saves as a user's IOHandler that writes files, downloads, localStorage or http does: the whole
 * of the artifacts (the topology and training config with the optimizer, the weights as base64)
 * through one JSON string, and loads the model back from it; `edit` may change the saved
 * optimizer config.
 */
export async function saveAndLoad(
  model: tfl.LayersModel,
  edit = (config: tf.serialization.ConfigDict) => config,
): Promise<tfl.LayersModel> {
  let written = '';
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = base64(new Uint8Array(artifacts.weightData as ArrayBuffer));
      written = JSON.stringify({ ...artifacts, weightData });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const read = JSON.parse(written) as tf.io.ModelArtifacts & { weightData: string };
  // tfjs-core types optimizer_config as {}; tfjs-layers writes { class_name, config } there.
  const optimizerConfig = read.trainingConfig!.optimizer_config as { config: tf.serialization.ConfigDict };
  optimizerConfig.config = edit(optimizerConfig.config);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ ...read, weightData: Uint8Array.from(atob(read.weightData), (c) => c.charCodeAt(0)).buffer }),
  );
}
