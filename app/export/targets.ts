/** The engines a recipe can be exported to, and how the mixture travels with it. */
import { CocktailError } from '../errors.ts';

export const EXPORT_TARGETS = ['axolotl', 'llamafactory', 'trl'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/**
 * "native": each task its own data set, mixed by the target where it can mix (LLaMA-Factory), else
 * concatenated and shuffled by it. "premixed": one pre-tokenized file in exactly our sampler's order,
 * which the target reads in order, once: faithful for every strategy.
 */
export const EXPORT_MODES = ['native', 'premixed'] as const;
export type ExportMode = (typeof EXPORT_MODES)[number];

export const TARGET_TITLES: Readonly<Record<ExportTarget, string>> = { axolotl: 'Axolotl', llamafactory: 'LLaMA-Factory', trl: 'TRL (with accelerate)' };

export function parseExportTarget(name: string): ExportTarget {
  if ((EXPORT_TARGETS as readonly string[]).includes(name)) return name as ExportTarget;
  throw new CocktailError('EXPORT_UNKNOWN_TARGET', `unknown export target "${name}"; the targets are ${EXPORT_TARGETS.join(', ')}`, { field: 'target', targets: [...EXPORT_TARGETS] });
}

export function parseExportMode(name: string): ExportMode {
  if ((EXPORT_MODES as readonly string[]).includes(name)) return name as ExportMode;
  throw new CocktailError('EXPORT_UNKNOWN_MODE', `unknown export mode "${name}"; the modes are ${EXPORT_MODES.join(', ')}`, { field: 'mode', modes: [...EXPORT_MODES] });
}
