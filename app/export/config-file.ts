/**
 * A configuration as a list of keys, each with the documentation that names it, so the YAML a target
 * reads carries its sources as comments and a test can check every key against its source.
 */
import YAML from 'yaml';
import type { Recipe } from '../train/recipe.ts';

export interface ConfigKey {
  key: string;
  value: unknown;
  /** Where the target documents this key (a documentation page or a source file of its repository). */
  source: string;
  /** Which recipe field it comes from, for MAPPING.md; undefined for settings the target needs to keep our behaviour. */
  from?: string;
}

export function yamlWithSources(title: string, keys: readonly ConfigKey[]): string {
  const lines = title.split('\n').map((line) => `# ${line}`);
  for (const entry of keys) {
    lines.push('', `# ${entry.source}${entry.from ? ` (recipe: ${entry.from})` : ''}`);
    lines.push(YAML.stringify({ [entry.key]: entry.value }, { lineWidth: 0 }).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The AdamW settings under the names of transformers' TrainingArguments, which Axolotl, LLaMA-Factory and
 * TRL all read under the same keys; `source` is the page each target documents them on.
 */
export function adamwKeys(recipe: Recipe, source: string): ConfigKey[] {
  return [
    { key: 'learning_rate', value: recipe.optimizer.lr, source, from: 'optimizer.lr' },
    { key: 'adam_beta1', value: recipe.optimizer.betas[0], source, from: 'optimizer.betas[0]' },
    { key: 'adam_beta2', value: recipe.optimizer.betas[1], source, from: 'optimizer.betas[1]' },
    { key: 'adam_epsilon', value: recipe.optimizer.eps, source, from: 'optimizer.eps' },
    { key: 'weight_decay', value: recipe.optimizer.weight_decay, source, from: 'optimizer.weight_decay' },
    { key: 'max_grad_norm', value: recipe.clip, source, from: 'clip' },
  ];
}

export function keysObject(keys: readonly ConfigKey[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((entry) => [entry.key, entry.value]));
}

export function jsonl(rows: readonly unknown[]): string {
  return rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length > 0 ? '\n' : '');
}
