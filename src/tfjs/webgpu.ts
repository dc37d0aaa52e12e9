/**
 * The WebGPU path of the TensorFlow.js optimizer: this library's shaders on the `webgpu`
 * backend's own GPUDevice, updating the variables' own GPU buffers in place, with nothing read
 * back to the CPU during a step.
 *
 * Each distinct list of variables that gradients arrive for (in practice: one, the model's
 * trainable weights) gets one engine (src/gpu/engine.ts); tfjs hands out new gradient buffers
 * every step, so the engine is rebound to them, which remakes bind groups only. A variable's
 * state lives in exactly one place, in its engine's state buffers, which this path reads and
 * writes directly; when a variable turns up in another list, its state is copied there on the GPU.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdafactorOptions } from '../core/options.js';
import type { AdafactorStats } from '../core/stats.js';
import { AdafactorEngine } from '../gpu/engine.js';
import { rebindParams } from '../gpu/params.js';
import { encodeStateBuffer } from '../gpu/state_buffers.js';
import { type StateEntry, entryValues, keptValues, stateEntries } from '../state/entries.js';
import { STATE_SLOTS, type Slot } from '../state/tensors.js';
import { type WebGPUBackendInternals, submitPending } from './backend.js';
import type { VariableGroups } from './groups.js';
import type { HostState } from './restore.js';

/** State kept on the CPU side of the optimizer, for a variable whose state moves to the GPU. */
export interface HostStates {
  /** The state of `name` as CPU arrays (reading tfjs variables back where they hold it), if any. */
  read(name: string): HostState | undefined;
  /** The GPU holds it now: drop the CPU side's. */
  moved(name: string): void;
}

/** A variable and its gradient, as one step receives them. */
export interface GradientEntry {
  name: string;
  variable: tf.Variable;
  grad: tf.Tensor;
}

/** One engine over one list of variables, and where each variable's state sits in it. */
interface VariableList {
  engine: AdafactorEngine;
  device: GPUDevice;
  names: string[];
  shapes: number[][];
  params: GPUBuffer[];
  grads: GPUBuffer[];
  /** Per variable, its state tensors by slot. */
  slots: Map<Slot, StateEntry>[];
}

export class WebGPUSteps {
  private readonly lists = new Map<string, VariableList>();
  /** The list of variables of the last step, for stats(). */
  private lastList: VariableList | undefined;
  /** Where each variable's state lives now. */
  private readonly owners = new Map<string, { list: VariableList; index: number }>();

  constructor(
    private readonly options: AdafactorOptions,
    private readonly groups: VariableGroups,
  ) {}

  /** Whether the state of `name` lives here. */
  owns(name: string): boolean {
    return this.owners.has(name);
  }

  /** Forgets the state of `name` (setWeights gave it a new one), freeing what no variable needs. */
  release(name: string): void {
    this.owners.delete(name);
    this.freeUnused();
  }

  /** Bytes of GPU memory held for optimizer state. */
  get stateBytes(): number {
    return [...this.lists.values()].reduce((sum, l) => sum + l.engine.stateBytes, 0);
  }

  /**
   * One step over `entries`: the step count goes to `iterations` + 1. `host` gives the state of a
   * variable seen here for the first time (from setWeights, or from the tfjs-ops path), and is
   * told once it was taken; none starts it at zero.
   */
  step(backend: WebGPUBackendInternals, entries: readonly GradientEntry[], iterations: number, host: HostStates): void {
    const device = backend.device;
    // Everything that can fail is checked before the state of any variable moves.
    if (iterations >= Number.MAX_SAFE_INTEGER)
      throw new Error(`Adafactor: the step count ${iterations} cannot grow past 2^53 - 1`);
    for (const e of entries) {
      for (const [what, t] of [
        ['variable', e.variable],
        ['gradient', e.grad],
      ] as const) {
        if (t.isDisposed) throw new Error(`AdafactorOptimizer: the ${what} of '${e.name}' is disposed`);
        if (t.dtype !== 'float32')
          throw new Error(
            `AdafactorOptimizer: the ${what} of '${e.name}' is ${t.dtype}; the webgpu path takes float32`,
          );
      }
      if (e.grad.shape.join() !== e.variable.shape.join()) {
        throw new Error(
          `AdafactorOptimizer: the gradient of '${e.name}' has shape [${e.grad.shape.join(', ')}], its variable [${e.variable.shape.join(', ')}]`,
        );
      }
      const owner = this.owners.get(e.name);
      if (owner && owner.list.device !== device) {
        throw new Error(
          'AdafactorOptimizer: the webgpu backend has a new GPUDevice and the optimizer state lives on the old one; make a new optimizer (restore its state with setWeights)',
        );
      }
      if (owner && owner.list.shapes[owner.index].join() !== e.variable.shape.join()) {
        throw new Error(
          `AdafactorOptimizer: the state of '${e.name}' is for shape [${owner.list.shapes[owner.index].join(', ')}], the variable has [${e.variable.shape.join(', ')}]; ` +
            'for a new variable under an old name, dispose() the optimizer or setWeights()',
        );
      }
    }
    const copies = privateData(backend, entries);
    try {
      for (const e of entries) {
        backend.uploadToGPU(e.variable.dataId);
        backend.uploadToGPU((copies.get(e) ?? e.grad).dataId);
      }
      // In the order the engine keeps them: each parameter group's variables, then the others'.
      const { order } = this.groups.engineGroups(
        entries.map((e) => e.name),
        entries,
      );
      const ordered = order.map((i) => entries[i]);
      const params = ordered.map((e) => gpuBuffer(backend, e.variable, `variable '${e.name}'`));
      const grads = ordered.map((e) => gpuBuffer(backend, copies.get(e) ?? e.grad, `the gradient of '${e.name}'`));
      const list = this.listFor(device, ordered, params, grads);
      const arriving = list.names.flatMap((name, index) => {
        const owner = this.owners.get(name);
        if (owner?.list === list && owner.index === index) return [];
        const state = owner ? undefined : host.read(name);
        if (state) checkShapes(list, index, state);
        return [{ name, index, owner, state }];
      });

      const encoder = device.createCommandEncoder({ label: 'adafactor tfjs step' });
      for (const { index, owner, state } of arriving) {
        if (owner) copyState(owner.list, owner.index, list, index, encoder);
        else writeState(list, index, state, encoder);
      }
      list.engine.record(encoder, iterations + 1);
      this.lastList = list;
      // The gradients may still sit in tfjs's unsubmitted commands: submit those first.
      submitPending(backend);
      device.queue.submit([encoder.finish()]);

      for (const { name, index, state } of arriving) {
        this.owners.set(name, { list, index });
        if (state) host.moved(name);
      }
      this.freeUnused();
      // A copy of a variable's values that tfjs cached on the CPU is stale now.
      for (const e of entries) {
        const data = backend.tensorMap.get(e.variable.dataId);
        if (data) data.values = null;
      }
    } finally {
      // Released to tfjs's pool at its next submit, which the queue runs after this step.
      for (const copy of copies.values()) copy.dispose();
    }
  }

  /** What the last step did to each of its variables (Adafactor.stats()), if there was one. */
  async stats(): Promise<AdafactorStats | undefined> {
    const list = this.lastList;
    // A list freed since (its variables' state moved elsewhere) has no stats to give.
    return list && [...this.lists.values()].includes(list) ? list.engine.stats() : undefined;
  }

  /** The state of every variable whose state lives here, read back (for getWeights). */
  async read(): Promise<Map<string, HostState>> {
    const byList = new Map<VariableList, number[]>();
    for (const { list, index } of this.owners.values()) {
      const indices = byList.get(list) ?? [];
      indices.push(index);
      byList.set(list, indices);
    }
    const result = new Map<string, HostState>();
    for (const [list, indices] of byList) {
      const { values } = await list.engine.readState();
      for (const index of indices) {
        const state: HostState = {};
        for (const [slot, entry] of list.slots[index])
          state[slot] = { shape: [...entry.shape], data: Float32Array.from(entryValues(entry, values)) };
        result.set(list.names[index], state);
      }
    }
    return result;
  }

  dispose(): void {
    for (const list of this.lists.values()) list.engine.destroy();
    this.lists.clear();
    this.owners.clear();
  }

  /** Destroys the lists that hold no variable's state. */
  private freeUnused(): void {
    const used = new Set([...this.owners.values()].map((o) => o.list));
    for (const [key, list] of this.lists) {
      if (used.has(list)) continue;
      list.engine.destroy();
      this.lists.delete(key);
    }
  }

  /** The Adafactor for this list of variables, made on first use and rebound to this step's buffers. */
  private listFor(
    device: GPUDevice,
    entries: readonly GradientEntry[],
    params: GPUBuffer[],
    grads: GPUBuffer[],
  ): VariableList {
    const names = entries.map((e) => e.name);
    const shapes = entries.map((e) => [...e.variable.shape]);
    const key = JSON.stringify([names, shapes]);
    let list = this.lists.get(key);
    if (list && list.device !== device) {
      throw new Error(
        'AdafactorOptimizer: the webgpu backend has a new GPUDevice and the optimizer state lives on the old one; make a new optimizer (restore its state with setWeights)',
      );
    }
    if (!list) {
      const tensors = entries.map((e, i) => ({
        param: params[i],
        grad: grads[i],
        shape: e.variable.shape,
        name: e.name,
      }));
      // `entries` come in engine order already: the groups keep it.
      const engine = new AdafactorEngine(
        device,
        this.groups.engineGroups(names, tensors).groups ?? tensors,
        this.options,
      );
      const slots = names.map(() => new Map<Slot, StateEntry>());
      for (const entry of stateEntries(engine.plan, engine.params, engine.geometries))
        slots[entry.input].set(entry.slot, entry);
      list = { engine, device, names, shapes, params, grads, slots };
      this.lists.set(key, list);
      return list;
    }
    if (params.some((b, i) => b !== list!.params[i]) || grads.some((b, i) => b !== list!.grads[i])) {
      const rebound = rebindParams(
        list.engine.params,
        list.engine.groupMembers(),
        params.map((param, i) => ({ param, grad: grads[i] })),
      );
      list.engine.rebind(rebound.params, rebound.groupBuffers);
      list.params = params;
      list.grads = grads;
    }
    return list;
  }
}

/**
 * Gives every variable data of its own, and returns copies of gradients that would share a
 * buffer with a variable or another gradient. tfjs shares one data buffer between tensors
 * (tf.variable(x), clone, reshape, assign, model.setWeights(other.getWeights())): an update in
 * place would show through all of them. The copies are the caller's to dispose.
 */
function privateData(
  backend: WebGPUBackendInternals,
  entries: readonly GradientEntry[],
): Map<GradientEntry, tf.Tensor> {
  for (const e of entries) {
    if (backend.refCount(e.variable.dataId) > 1) tf.tidy(() => e.variable.assign(tf.mul(e.variable, 1)));
  }
  const seen = new Set<object>(entries.map((e) => e.variable.dataId));
  const copies = new Map<GradientEntry, tf.Tensor>();
  for (const e of entries) {
    if (seen.has(e.grad.dataId)) copies.set(e, tf.mul(e.grad, 1));
    seen.add(e.grad.dataId);
  }
  return copies;
}

/** The GPUBuffer that holds a tensor on the webgpu backend. */
function gpuBuffer(backend: WebGPUBackendInternals, tensor: tf.Tensor, what: string): GPUBuffer {
  const resource = backend.tensorMap.get(tensor.dataId)?.resource as GPUBuffer | undefined;
  if (!resource || typeof resource.getMappedRange !== 'function') {
    throw new Error(
      `AdafactorOptimizer: ${what} is not held in a GPUBuffer on the webgpu backend (textures are not supported)`,
    );
  }
  return resource;
}

/** Copies the state of variable `from` of one list into variable `to` of another, on the GPU. */
function copyState(
  source: VariableList,
  from: number,
  target: VariableList,
  to: number,
  encoder: GPUCommandEncoder,
): void {
  for (const [slot, t] of target.slots[to]) {
    const s = source.slots[from].get(slot);
    if (!s || s.length !== t.length) throw new Error(`internal: no matching ${slot} state for '${target.names[to]}'`);
    const [sourceAt, targetAt] = [entryBytes(source, s), entryBytes(target, t)];
    encoder.copyBufferToBuffer(
      source.engine.state[s.buffer],
      sourceAt.offset,
      target.engine.state[t.buffer],
      targetAt.offset,
      targetAt.size,
    );
  }
}

/** The bytes of a state entry in its buffer: whole u32 words (a 16-bit M is padded to them). */
function entryBytes(list: VariableList, entry: StateEntry): { offset: number; size: number } {
  const bytes = entry.buffer === 'momentum' ? list.engine.plan.momentumElementBytes : 4;
  return { offset: entry.offset * bytes, size: Math.ceil((entry.length * bytes) / 4) * 4 };
}

/** Given state must have the shapes this variable's state has here, and no slot it lacks. */
function checkShapes(list: VariableList, index: number, state: HostState): void {
  for (const slot of Object.keys(state) as Slot[]) {
    const given = state[slot]!;
    const entry = list.slots[index].get(slot);
    if (!entry)
      throw new Error(
        `AdafactorOptimizer: '${list.names[index]}' has ${STATE_SLOTS[slot].name} state, which it does not keep with these options`,
      );
    if (given.shape.join() !== entry.shape.join() || given.data.length !== entry.length) {
      throw new Error(
        `AdafactorOptimizer: the ${STATE_SLOTS[slot].name} state of '${list.names[index]}' has shape [${given.shape.join(', ')}], expected [${entry.shape.join(', ')}]`,
      );
    }
  }
}

/** Writes a variable's state from the CPU (checked by checkShapes), or zeros where none is given. */
function writeState(list: VariableList, index: number, state: HostState | undefined, encoder: GPUCommandEncoder): void {
  const buffers = list.engine.state;
  for (const [slot, entry] of list.slots[index]) {
    const given = state?.[slot];
    const at = entryBytes(list, entry);
    if (!given) {
      encoder.clearBuffer(buffers[entry.buffer], at.offset, at.size);
      continue;
    }
    const kept = encodeStateBuffer(list.engine.options.momentumDtype, entry.buffer, keptValues(entry, given.data));
    list.device.queue.writeBuffer(buffers[entry.buffer], at.offset, kept.buffer, kept.byteOffset, kept.byteLength);
  }
}
