/**
 * The experts a router chooses between: PEFT adapters of one base model with the same target
 * modules, and optionally "base" (the model with no adapter). Anything else is refused before a
 * feature is computed, naming the expert at fault.
 */
import { CocktailError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { checkAdapterBaseModel } from '../train/peft-layout.ts';
import { importPeftAdapter, type PeftFiles } from '../train/peft.ts';
import { BASE_EXPERT } from './decide.ts';

export interface ExpertFiles {
  name: string;
  files: PeftFiles;
}

export interface Expert {
  name: string;
  files: PeftFiles;
  adapter: LoraAdapter;
}

/** A name that is a folder of its own in the bundle, and not "base" (the model without an adapter). */
export function checkExpertName(name: string): void {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name) || name === BASE_EXPERT) {
    throw new CocktailError('ROUTER_BAD_EXPERT_NAME', `"${name}" cannot name an expert: use letters, digits, ".", "_" or "-" (it becomes a folder of the bundle), and not "${BASE_EXPERT}", which means no adapter`, { expert: name });
  }
}

/** A name of a router's expert list: an adapter folder's name, or "base" (the model with no adapter, no folder). */
export function checkRoutedExpertName(name: string): void {
  if (name !== BASE_EXPERT) checkExpertName(name);
}

/** Refuses a router's expert list of fewer than two, with a name that cannot be one, or with a name twice. */
export function checkExpertList(names: readonly string[]): void {
  if (names.length < 2) throw new CocktailError('ROUTER_TOO_FEW_EXPERTS', `a router chooses between at least two experts; got ${names.length}${names.length === 1 ? ` ("${names[0]}")` : ''}`, { experts: names.length });
  names.forEach(checkRoutedExpertName);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw new CocktailError('ROUTER_DUPLICATE_EXPERT', `two experts are named "${twice}"; give each its own name (--names)`, { expert: twice });
}

/** The experts of a list that are adapters (all but "base"). */
export const adapterExperts = (names: readonly string[]): string[] => names.filter((name) => name !== BASE_EXPERT);

/**
 * Refuses adapters trained on another model than the one they are applied to, naming the expert
 * (a Hub id is compared with each adapter's base_model_name_or_path, as everywhere else).
 */
export function checkExpertsModel(adapters: ReadonlyMap<string, PeftFiles>, modelSource: string): void {
  for (const [name, files] of adapters) checkAdapterBaseModel(files.config, modelSource, `expert "${name}"`);
}

interface AdapterFacts {
  base: string | null;
  targets: string[];
}

function factsOf(expert: ExpertFiles): AdapterFacts {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(expert.files.config) as Record<string, unknown>;
  } catch {
    throw new CocktailError('ADAPTER_INVALID', `expert "${expert.name}" (${expert.files.location ?? 'adapter'}): adapter_config.json is not JSON`, { expert: expert.name });
  }
  const base = typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : null;
  const targets = Array.isArray(config.target_modules) ? (config.target_modules as unknown[]).map(String).sort() : typeof config.target_modules === 'string' ? [config.target_modules] : [];
  return { base, targets };
}

/**
 * Checks every expert against the first and against the model, then reads them. `modelSource` is the
 * recipe's model (a Hub id is compared with each adapter's base_model_name_or_path).
 */
export async function loadExperts(experts: readonly ExpertFiles[], model: ModelConfig, modelSource: string, options: { minimum?: number } = {}): Promise<Expert[]> {
  const minimum = options.minimum ?? 2;
  if (experts.length < minimum) throw new CocktailError('ROUTER_TOO_FEW_EXPERTS', `a router chooses between at least two experts; got ${experts.length}${experts.length === 1 ? ` ("${experts[0]!.name}")` : ''}`, { experts: experts.length });
  const seen = new Set<string>();
  for (const { name } of experts) {
    checkExpertName(name);
    if (seen.has(name)) throw new CocktailError('ROUTER_DUPLICATE_EXPERT', `two experts are named "${name}"; give each its own name (--names)`, { expert: name });
    seen.add(name);
  }
  const facts = experts.map(factsOf);
  const first = experts[0]!;
  experts.forEach((expert, index) => {
    const own = facts[index]!;
    if (own.base !== facts[0]!.base) {
      throw new CocktailError('ROUTER_EXPERT_BASE_MISMATCH', `expert "${expert.name}" was trained on ${own.base ?? 'an unnamed base model'}, but expert "${first.name}" on ${facts[0]!.base ?? 'an unnamed base model'} (base_model_name_or_path): every expert must adapt the same base model`, {
        expert: expert.name,
        base: own.base,
        expected: facts[0]!.base,
      });
    }
    if (own.targets.join(',') !== facts[0]!.targets.join(',')) {
      throw new CocktailError('ROUTER_EXPERT_TARGETS_MISMATCH', `expert "${expert.name}" adapts ${own.targets.join(', ')}, but expert "${first.name}" adapts ${facts[0]!.targets.join(', ')} (target_modules): every expert must adapt the same modules`, {
        expert: expert.name,
        targets: own.targets,
        expected: facts[0]!.targets,
      });
    }
    checkAdapterBaseModel(expert.files.config, modelSource, `expert "${expert.name}"`);
  });
  const loaded: Expert[] = [];
  for (const expert of experts) {
    try {
      loaded.push({ ...expert, adapter: await importPeftAdapter(expert.files, model) });
    } catch (error) {
      if (error instanceof CocktailError) throw new CocktailError(error.code, `expert "${expert.name}": ${error.message}`, { ...error.details, expert: expert.name });
      throw error;
    }
  }
  return loaded;
}
