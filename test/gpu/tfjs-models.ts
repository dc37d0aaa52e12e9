/**
 * The small tfjs-layers model that the save-and-resume tests train on either backend, and the
 * round trip a user makes to pause training: save with the optimizer, load back.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AdafactorOptions } from '../../src/core/options.js';
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
) {
  const uninterrupted = makeModel();
  const initial = uninterrupted.getWeights().map((w) => w.clone());
  uninterrupted.compile({ optimizer: new AdafactorOptimizer(options), loss: 'meanSquaredError' });
  await fit(uninterrupted, x, y, totalEpochs);

  const first = makeModel();
  first.setWeights(initial);
  const optimizer = new AdafactorOptimizer(options);
  first.compile({ optimizer, loss: 'meanSquaredError' });
  await fit(first, x, y, firstEpochs);
  const saved = await optimizer.getWeights();
  return { uninterrupted, initial, first, optimizer, saved };
}

/**
 * Saves to memory as a user's IOHandler would (the topology and training config as JSON, the
 * optimizer included) and loads the model back; `edit` may change the saved optimizer config.
 */
export async function saveAndLoad(
  model: tfl.LayersModel,
  edit = (config: tf.serialization.ConfigDict) => config,
): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const json = <T>(value: T): T => JSON.parse(JSON.stringify(value));
  const trainingConfig = json(saved!.trainingConfig!);
  // tfjs-core types optimizer_config as {}; tfjs-layers writes { class_name, config } there.
  const optimizerConfig = trainingConfig.optimizer_config as { config: tf.serialization.ConfigDict };
  optimizerConfig.config = edit(optimizerConfig.config);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ ...saved!, modelTopology: json(saved!.modelTopology), trainingConfig }),
  );
}
