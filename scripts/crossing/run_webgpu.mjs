// Runs this library's Adafactor on WebGPU in Node (Dawn) for python/test_crossing.py: reads a job
// (a preset's library and arguments, shapes, initial parameters and every step's gradients, as
// base64 float32) and writes the state saved after `saveAfter` steps (a safetensors file) and the
// parameters after that step and after the last (JSON, base64 float32). Needs the built library:
//
//   npm run build:lib && node scripts/crossing/run_webgpu.mjs job.json state.safetensors params.json
import { readFileSync, writeFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { Adafactor, presets } from '../../dist/webgpu-adafactor.js';

Object.assign(globalThis, globals);
const [jobFile, stateFile, paramsFile] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const floats = (text) => {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};
const base64 = (array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');

const gpu = create([]);
const device = await (await gpu.requestAdapter()).requestDevice();
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);
const tensors = job.shapes.map((shape, i) => {
  const bytes = Math.max(16, Math.ceil((sizeOf(shape) * 4) / 16) * 16);
  const param = device.createBuffer({ size: bytes, usage });
  const grad = device.createBuffer({ size: bytes, usage });
  device.queue.writeBuffer(param, 0, floats(job.init[i]));
  return { param, grad, shape };
});
const optimizer = new Adafactor(device, tensors, presets[job.library](job.options));

async function readParams() {
  return Promise.all(
    tensors.map(async ({ param, shape }) => {
      const staging = device.createBuffer({ size: param.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(param, 0, staging, 0, param.size);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const values = new Float32Array(staging.getMappedRange().slice(0), 0, sizeOf(shape));
      staging.destroy();
      return base64(values);
    }),
  );
}

let middle;
for (const [t, grads] of job.grads.entries()) {
  grads.forEach((g, i) => device.queue.writeBuffer(tensors[i].grad, 0, floats(g)));
  optimizer.step();
  if (t + 1 === job.saveAfter) {
    writeFileSync(stateFile, await optimizer.saveState());
    middle = await readParams();
  }
}
writeFileSync(paramsFile, JSON.stringify({ middle, end: await readParams() }));
optimizer.destroy();
device.destroy();
