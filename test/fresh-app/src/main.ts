// What a new user writes first (test/browser/app.test.ts builds it with Vite and runs it in
// headless Chromium): a tfjs model whose biases start at zero, fitted with AdafactorOptimizer and
// a bias group that learns, and the raw Adafactor on tfjs's own GPUDevice.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { Adafactor } from 'webgpu-adafactor';
import { AdafactorOptimizer, tfjsDevice } from 'webgpu-adafactor/tfjs';

declare global {
  interface Window {
    result?: { losses: number[]; biasRms: number[]; rawChanged: number; rawCount: number };
    failure?: string;
  }
}

const rms = (values: ArrayLike<number>) => Math.sqrt(Array.from(values).reduce((s, v) => s + v * v, 0) / values.length);

async function main(): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its 'webgpu' backend");

  // y = sum(x) / 2 + 1: the offset is the biases' to learn, and tfjs-layers starts them at zero.
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu' }), tf.layers.dense({ units: 1 })],
  });
  model.compile({
    optimizer: new AdafactorOptimizer({}, [{ match: /bias/, scaleParameter: false }]),
    loss: 'meanSquaredError',
  });
  const x = tf.randomNormal([64, 8], 0, 1, 'float32', 7);
  const y = tf.add(tf.mul(tf.sum(x, 1, true), 0.5), 1);
  const history = await model.fit(x, y, { epochs: 40, batchSize: 64, verbose: 0 });
  const losses = history.history.loss as number[];
  const biases = model.getWeights().filter((w) => w.shape.length === 1);
  const biasRms = (await Promise.all(biases.map((w) => w.data()))).map(rms);

  // The raw optimizer on tfjs's own device, over buffers of our own that we fill and read back.
  const { device, submitPending } = tfjsDevice();
  const count = 64;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const params = device.createBuffer({ size: count * 4, usage });
  const grads = device.createBuffer({ size: count * 4, usage });
  const before = Float32Array.from({ length: count }, (_, i) => Math.sin(i));
  device.queue.writeBuffer(params, 0, before);
  device.queue.writeBuffer(
    grads,
    0,
    Float32Array.from({ length: count }, (_, i) => Math.cos(i)),
  );
  const raw = new Adafactor(device, [{ param: params, grad: grads, shape: [8, 8], name: 'w' }]);
  const encoder = device.createCommandEncoder();
  raw.step(encoder);
  submitPending();
  device.queue.submit([encoder.finish()]);
  const read = device.createBuffer({ size: count * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const copy = device.createCommandEncoder();
  copy.copyBufferToBuffer(params, 0, read, 0, count * 4);
  device.queue.submit([copy.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const after = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  const rawChanged = after.filter((v, i) => v !== before[i] && Number.isFinite(v)).length;
  raw.destroy();

  window.result = { losses, biasRms, rawChanged, rawCount: count };
  document.getElementById('log')!.textContent = JSON.stringify(window.result);
}

main().catch((error: unknown) => {
  window.failure = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
});
