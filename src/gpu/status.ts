/**
 * What the kernels leave for the host at the start of the scratch buffer: the status words
 * (whether the last step was skipped, the skipped-step count, the number of the last step that
 * ran) and, after them, every tensor's TensorScalars (see shaders/interface.wgsl).
 */
import type { StepStats } from '../core/stats.js';
import { SHADER } from './interface.js';
import { STEP_HALVES, stepHalves } from './step_scalars.js';
import { BufferUsage, MapMode } from './usage.js';

/** Bytes of the status words at the start of scratch. */
export function statusBytes(): number {
  return SHADER.constants.STATUS_WORDS * 4;
}

/**
 * The status words as the shaders keep them: whether the last step was skipped, the skipped-step
 * count in base-2^24 digits (f32), the number of the last step that ran in 16-bit halves (u32),
 * and with maxGradNorm the global norm of its gradients.
 */
export function readStatus(words: ArrayBuffer): {
  step: number;
  skippedSteps: number;
  skipped: boolean;
  gradNorm: number;
} {
  const { STATUS_SKIP, STATUS_SKIPPED_STEPS, SKIPPED_DIGITS, SKIPPED_DIGIT_BASE, STATUS_STEP, STATUS_GRAD_NORM } =
    SHADER.constants;
  const floats = new Float32Array(words, 0, SHADER.constants.STATUS_WORDS);
  const halves = new Uint32Array(words, 0, SHADER.constants.STATUS_WORDS);
  let skippedSteps = 0;
  for (let k = SKIPPED_DIGITS - 1; k >= 0; k--)
    skippedSteps = skippedSteps * SKIPPED_DIGIT_BASE + floats[STATUS_SKIPPED_STEPS + k];
  let step = 0;
  for (let k = STEP_HALVES - 1; k >= 0; k--) step = step * 65536 + halves[STATUS_STEP + k];
  return { step, skippedSteps, skipped: floats[STATUS_SKIP] !== 0, gradNorm: floats[STATUS_GRAD_NORM] };
}

/** Status words holding the given counts (and no pending skip), for loadState. */
export function statusWords(step: number, skippedSteps: number): ArrayBuffer {
  const { STATUS_WORDS, STATUS_SKIPPED_STEPS, SKIPPED_DIGITS, SKIPPED_DIGIT_BASE, STATUS_STEP } = SHADER.constants;
  const words = new ArrayBuffer(STATUS_WORDS * 4);
  const floats = new Float32Array(words);
  const halves = new Uint32Array(words);
  for (let k = 0; k < SKIPPED_DIGITS; k++)
    floats[STATUS_SKIPPED_STEPS + k] = Math.floor(skippedSteps / SKIPPED_DIGIT_BASE ** k) % SKIPPED_DIGIT_BASE;
  halves.set(stepHalves(step), STATUS_STEP);
  return words;
}

/** What a tensor's TensorScalars say of the last step that ran, read by field name. */
export function readStepStats(words: ArrayBuffer, tensorScalars: number): StepStats {
  const { paramRms, stepSize, updateRms, clipDivisor } = SHADER.structs.TensorScalars.read(
    new DataView(words),
    4 * tensorScalars,
  );
  return { paramRms, stepSize, updateRms, clipDivisor };
}

/** Bytes of the status words and every tensor's scalars at the start of scratch. */
export function statusAndScalarsBytes(tensorCount: number): number {
  return statusBytes() + SHADER.structs.TensorScalars.size * tensorCount;
}

/** The buffer that the status words and the scalars of `tensorCount` tensors are read back through. */
export function scratchReadback(device: GPUDevice, tensorCount: number): GPUBuffer {
  const size = statusAndScalarsBytes(tensorCount);
  return device.createBuffer({
    label: 'adafactor status readback',
    size,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
}

/** Reads the start of scratch back through one buffer, one read after the other (a buffer maps once at a time). */
export class ScratchReader {
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly device: GPUDevice,
    private readonly scratch: GPUBuffer,
    private readonly readback: GPUBuffer,
  ) {}

  /** The first `bytes` of scratch, after the steps submitted so far. */
  read(bytes: number): Promise<ArrayBuffer> {
    const read = this.last.then(async () => {
      const encoder = this.device.createCommandEncoder({ label: 'adafactor status' });
      encoder.copyBufferToBuffer(this.scratch, 0, this.readback, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await this.readback.mapAsync(MapMode.READ, 0, bytes);
      const words = this.readback.getMappedRange(0, bytes).slice(0);
      this.readback.unmap();
      return words;
    });
    this.last = read.catch(() => undefined);
    return read;
  }
}
