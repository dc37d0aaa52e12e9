/**
 * Parameter groups, as in PyTorch: `params` is either a list of tensors or a list of groups
 * `{ params: [...], ...options }` whose options override the optimizer's for their tensors.
 */
import { type AdafactorOptions, type ResolvedOptions, resolveOptions } from './options.js';

/** Options a parameter group may override: all but the optimizer-wide ones. */
export type AdafactorGroupOptions = Omit<
  AdafactorOptions,
  'skipNonFinite' | 'limits' | 'kernelVariant' | 'momentumDtype' | 'gradScale' | 'maxGradNorm'
>;

export interface AdafactorParamGroup<P> extends AdafactorGroupOptions {
  params: readonly P[];
}

/** The options that apply to the whole optimizer, which a group may not set. */
export const OPTIMIZER_WIDE = [
  'skipNonFinite',
  'limits',
  'kernelVariant',
  'momentumDtype',
  'gradScale',
  'maxGradNorm',
] as const;

export interface ResolvedGroups<P> {
  /** Every tensor, groups flattened in order. */
  tensors: P[];
  /** Index into `options` of each tensor's group. */
  groupOf: number[];
  /** Resolved options of each group (one group when `params` is a plain list). */
  options: ResolvedOptions[];
  /** The optimizer-wide options. */
  base: ResolvedOptions;
}

function isGroup<P>(entry: P | AdafactorParamGroup<P>): entry is AdafactorParamGroup<P> {
  return typeof entry === 'object' && entry !== null && Array.isArray((entry as { params?: unknown }).params);
}

export function resolveGroups<P>(
  params: readonly (P | AdafactorParamGroup<P>)[],
  options: AdafactorOptions,
  where = 'Adafactor',
): ResolvedGroups<P> {
  if (!Array.isArray(params)) throw new Error(`${where}: params must be an array of tensors or of parameter groups`);
  const base = resolveOptions(options, where);
  const groupCount = params.filter((p) => isGroup(p)).length;
  if (groupCount === 0) return { tensors: [...(params as P[])], groupOf: params.map(() => 0), options: [base], base };
  if (groupCount !== params.length)
    throw new Error(`${where}: params mixes tensors and parameter groups; put every tensor in a group`);
  const result: ResolvedGroups<P> = { tensors: [], groupOf: [], options: [], base };
  (params as AdafactorParamGroup<P>[]).forEach((group, g) => {
    const { params: members, ...overrides } = group;
    for (const key of OPTIMIZER_WIDE) {
      if (key in overrides)
        throw new Error(
          `${where}: parameter group ${g} sets ${key}, which applies to the whole optimizer; set it in the options`,
        );
    }
    result.options.push(resolveOptions({ ...options, ...overrides }, `${where}: parameter group ${g}`));
    for (const tensor of members) {
      result.tensors.push(tensor);
      result.groupOf.push(g);
    }
  });
  return result;
}
