export { Adafactor, type AdafactorStats } from './adafactor.js';
export type { AdafactorParam } from './validate.js';
export type { AdafactorGroupOptions, AdafactorParamGroup } from './groups.js';
export { type AdafactorOptions, type ResolvedOptions, DEFAULT_OPTIONS, resolveOptions, beta2, oneMinusBeta2, stepSize } from './options.js';
export { ReferenceAdafactor, type ReferenceParam, type ReferenceState, type StepStats, referenceStep, rms } from './reference.js';
export { type Geometry, geometry } from './shape.js';
export { presets, type HuggingFaceAdafactorArgs, type OptaxAdafactorArgs, type TorchAdafactorArgs } from './presets.js';
export { encodeSafetensors, decodeSafetensors, float32Values, type NamedTensor, type Safetensors } from './safetensors.js';
