/**
 * Parameter groups of the TensorFlow.js optimizer, as the WebGPU `Adafactor` has them: a variable
 * takes the options of the first group whose `match` matches its name (a RegExp, or a function of
 * the name), and the optimizer's options when none does. The same groups serve both paths: the
 * tfjs-ops path reads each variable's options, the webgpu path gives each engine its groups.
 */
import type { AdafactorGroupOptions, AdafactorParamGroup } from '../core/groups.js';
import { type ResolvedOptions, resolveOptions } from '../core/options.js';
import { optionsFromJson, optionsToJson } from '../core/options_json.js';
import { beta2, oneMinusBeta2, stepSize } from '../core/schedules.js';
import type { StepScalars } from './stages.js';

export interface AdafactorOptimizerGroup extends AdafactorGroupOptions {
  /** The group's variables: those whose name it matches (a RegExp is searched for in the name), or a function of the name. */
  match: RegExp | ((name: string) => boolean);
}

/** Options that apply to the whole optimizer, which a group may not set (as in the WebGPU `Adafactor`). */
const OPTIMIZER_WIDE = ['skipNonFinite', 'limits', 'kernelVariant'] as const;

/** A group as getConfig writes it: its RegExp as source and flags, its options as JSON keeps them. */
interface GroupConfig {
  match: { source: string; flags: string };
  [option: string]: unknown;
}

export class VariableGroups {
  /** The options outside every group, and each group's. */
  readonly base: ResolvedOptions;
  readonly resolved: ResolvedOptions[];
  private readonly groups: AdafactorOptimizerGroup[];
  private readonly indexOfName = new Map<string, number>();

  constructor(base: ResolvedOptions, options: object, groups: readonly AdafactorOptimizerGroup[]) {
    const where = 'AdafactorOptimizer';
    if (!Array.isArray(groups))
      throw new Error(`${where}: groups must be an array of { match, ...options }, got ${typeof groups}`);
    this.base = base;
    this.groups = groups.map((group, g) => {
      if (typeof group !== 'object' || group === null || Array.isArray(group))
        throw new Error(`${where}: parameter group ${g} must be an object { match, ...options }`);
      const { match, ...overrides } = group;
      if (!(match instanceof RegExp) && typeof match !== 'function')
        throw new Error(`${where}: parameter group ${g}: match must be a RegExp or a function of the variable's name`);
      for (const key of OPTIMIZER_WIDE) {
        if (key in overrides)
          throw new Error(
            `${where}: parameter group ${g} sets ${key}, which applies to the whole optimizer; set it in the options`,
          );
      }
      return { match, ...overrides };
    });
    this.resolved = this.groups.map(({ match: _match, ...overrides }, g) =>
      resolveOptions({ ...options, ...overrides }, `${where}: parameter group ${g}`),
    );
  }

  get count(): number {
    return this.groups.length;
  }

  /** The index of the group of a variable, or `count` for the options outside every group. */
  indexOf(name: string): number {
    let index = this.indexOfName.get(name);
    if (index === undefined) {
      index = this.groups.findIndex(({ match }) => (match instanceof RegExp ? name.search(match) >= 0 : match(name)));
      if (index < 0) index = this.groups.length;
      this.indexOfName.set(name, index);
    }
    return index;
  }

  optionsOf(name: string): ResolvedOptions {
    return this.resolved[this.indexOf(name)] ?? this.base;
  }

  /** What `where` says of group `index` in an error: the group, where there are groups. */
  where(where: string, index: number): string {
    if (this.groups.length === 0) return where;
    return index < this.groups.length
      ? `${where}: parameter group ${index}`
      : `${where}: the options outside every group`;
  }

  /** Step t's scalars for every group and the options outside them (the last), each checked before any is used. */
  stepScalars(step: number): StepScalars[] {
    return [...this.resolved, this.base].map((o, index) => {
      const where = this.where('AdafactorOptimizer', index);
      return { rho: stepSize(o, step, where), decay: beta2(o, step, where), rate: oneMinusBeta2(o, step, where) };
    });
  }

  /**
   * The groups of one engine over `names`, for the webgpu path: the names in the order the engine
   * keeps them (each group's, then the others'), and its parameter groups (none without groups).
   */
  engineGroups<P>(
    names: readonly string[],
    params: readonly P[],
  ): { order: number[]; groups?: AdafactorParamGroup<P>[] } {
    const order = names.map((_, i) => i).sort((a, b) => this.indexOf(names[a]) - this.indexOf(names[b]) || a - b);
    if (this.groups.length === 0) return { order };
    const groups: AdafactorParamGroup<P>[] = [];
    for (let g = 0; g <= this.groups.length; g++) {
      const members = order.filter((i) => this.indexOf(names[i]) === g).map((i) => params[i]);
      if (members.length === 0) continue;
      const overrides = g < this.groups.length ? (({ match: _match, ...rest }) => rest)(this.groups[g]) : {};
      groups.push({ params: members, ...overrides });
    }
    return { order, groups };
  }

  /** The groups as getConfig writes them; a function `match` cannot be written. */
  toConfig(): GroupConfig[] {
    return this.groups.map(({ match, ...overrides }, g) => {
      if (!(match instanceof RegExp))
        throw new Error(
          `AdafactorOptimizer.getConfig: parameter group ${g} matches with a function, which cannot be saved; match with a RegExp`,
        );
      return { match: { source: match.source, flags: match.flags }, ...(optionsToJson(overrides) as object) };
    });
  }
}

/** The groups written by `toConfig`, read back. */
export function groupsFromConfig(config: unknown): AdafactorOptimizerGroup[] {
  if (config === undefined) return [];
  if (!Array.isArray(config)) throw new Error('AdafactorOptimizer.fromConfig: groups must be an array');
  return config.map((group: GroupConfig, g) => {
    const { match, ...overrides } = group ?? {};
    if (typeof match?.source !== 'string' || typeof match?.flags !== 'string')
      throw new Error(`AdafactorOptimizer.fromConfig: parameter group ${g} has no match { source, flags }`);
    return { match: new RegExp(match.source, match.flags), ...(optionsFromJson(overrides) as AdafactorGroupOptions) };
  });
}
