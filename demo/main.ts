import { Adafactor } from '../src/index.js';
import leastSquares from './least_squares.wgsl?raw';

const status = document.getElementById('status')!;
const show = (text: string) => (status.textContent = text);

async function main() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    status.className = 'error';
    show('WebGPU is not available in this browser. Use a recent Chrome or Edge, or start Chromium with --enable-unsafe-webgpu.');
    return;
  }
  const device = await adapter.requestDevice();
  const [batch, inputs, outputs] = [256, 64, 32];
  const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const x = random(batch * inputs);
  const target = random(inputs * outputs);
  const y = new Float32Array(batch * outputs);
  for (let b = 0; b < batch; b++) for (let o = 0; o < outputs; o++) for (let i = 0; i < inputs; i++) y[b * outputs + o] += x[b * inputs + i] * target[i * outputs + o];

  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const upload = (data: Float32Array<ArrayBuffer>) => {
    const buffer = device.createBuffer({ size: data.byteLength, usage });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  const w = upload(new Float32Array(inputs * outputs));
  const grad = upload(new Float32Array(inputs * outputs));
  const loss = upload(new Float32Array(outputs));
  const problem = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(problem, 0, new Uint32Array([batch, inputs, outputs, 0]));
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: leastSquares }), entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [problem, upload(x), upload(y), w, grad, loss].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const optimizer = new Adafactor(device, [{ param: w, grad, shape: [inputs, outputs], name: 'W' }], { relativeStep: false, lr: 0.05, scaleParameter: false });
  const readback = device.createBuffer({ size: loss.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

  for (let step = 1; step <= 300; step++) {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil((inputs * outputs) / 64));
    pass.end();
    optimizer.step(encoder);
    if (step % 20 === 0 || step === 1) encoder.copyBufferToBuffer(loss, 0, readback, 0, loss.size);
    device.queue.submit([encoder.finish()]);
    if (step % 20 === 0 || step === 1) {
      await readback.mapAsync(GPUMapMode.READ);
      const total = new Float32Array(readback.getMappedRange()).reduce((a, b) => a + b, 0);
      readback.unmap();
      show(`step ${step}: loss ${total.toExponential(3)}\noptimizer state: ${optimizer.stateBytes} bytes (Adam would keep ${2 * 4 * inputs * outputs})`);
    }
  }
}

main().catch((error) => {
  status.className = 'error';
  show(String(error));
});
