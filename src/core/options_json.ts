/**
 * Options as JSON carries them (checkpoint metadata, tfjs's getConfig), and back.
 */
/** The options whose values are numbers (limits' too): those JSON may have to carry as strings. */
const NUMBER_OPTIONS = new Set([
  'lr',
  'eps1',
  'eps2',
  'clipThreshold',
  'decayRate',
  'beta2',
  'beta2Cap',
  'decayOffset',
  'beta1',
  'weightDecay',
  'weightDecayMaxLr',
  'minDimSizeToFactor',
  'maxWorkgroupsPerDimension',
  'maxBindingBytes',
  'gradScale',
  'maxGradNorm',
]);

/**
 * Options as JSON can carry them, wherever options are written (checkpoint metadata, tfjs's
 * getConfig): a number JSON has no word for (Infinity: clipThreshold's "no clipping") becomes the
 * string that says it, and a function (lr, factorDims, gradScale) the string 'function'. `optionsFromJson`
 * undoes the first.
 */
export function optionsToJson(options: unknown): unknown {
  if (Array.isArray(options)) return options.map(optionsToJson);
  if (options === null || typeof options !== 'object') return options;
  return Object.fromEntries(
    Object.entries(options).map(([key, value]) => {
      if (typeof value === 'number' && !Number.isFinite(value)) return [key, String(value)];
      if ((key === 'lr' || key === 'factorDims' || key === 'gradScale') && typeof value === 'function')
        return [key, 'function'];
      return [key, optionsToJson(value)];
    }),
  );
}

/** Options written by `optionsToJson` and read back as JSON: the numbers it wrote as strings, numbers again. */
export function optionsFromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(optionsFromJson);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      const written = v === 'Infinity' || v === '-Infinity' || v === 'NaN';
      return [key, NUMBER_OPTIONS.has(key) && written ? Number(v) : optionsFromJson(v)];
    }),
  );
}
