export { Adafactor, type AdafactorStats } from './adafactor.js';
export type { AdafactorParam } from './gpu/params.js';
export type { AdafactorGroupOptions, AdafactorParamGroup } from './core/groups.js';
export { type AdafactorOptions, type ResolvedOptions, DEFAULT_OPTIONS, resolveOptions } from './core/options.js';
export { optionsFromJson, optionsToJson } from './core/options_json.js';
export { beta2, oneMinusBeta2, stepSize } from './core/schedules.js';
export { ReferenceAdafactor, type ReferenceParam, type ReferenceState, referenceStep } from './core/reference.js';
export { rms } from './core/stages.js';
export type { StepStats } from './core/stats.js';
export { type Geometry, geometry } from './core/shape.js';
export {
  presets,
  type HuggingFaceAdafactorArgs,
  type OptaxAdafactorArgs,
  type TorchAdafactorArgs,
  type TimmAdafactorArgs,
  type TimmBigVisionArgs,
} from './core/presets.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  float32Values,
  type NamedTensor,
  type Safetensors,
} from './state/safetensors.js';
