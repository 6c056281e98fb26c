/**
 * For the tests of prepare (Node only): the real aidreams260K tokenizer, recipe paths opened from
 * ../shared/fixtures/datasets as the CLI opens them (relative to the recipe's folder), and recipes
 * parsed by parseRecipe so that every default is the one a user gets.
 */
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { fixturePath } from '../../../test/fixtures.ts';
import { filesFromDirectory } from '../../model/node-source.ts';
import type { ModelFiles } from '../../model/source.ts';
import { loadTokenizer, type TextTokenizer } from '../../model/tokenizer.ts';
import { parseRecipe, type Recipe } from '../recipe.ts';

export const MODEL_DIR = 'models/aidreams260K';

/** The folder a test recipe lives in: its task paths are relative to it. */
export const RECIPE_DIR = fixturePath('datasets');

export function modelFiles(): Promise<ModelFiles> {
  return filesFromDirectory(fixturePath(MODEL_DIR));
}

export async function fixtureTokenizer(): Promise<TextTokenizer> {
  return loadTokenizer(await modelFiles());
}

/** What the CLI passes as openFile: the recipe's path resolved against the recipe's folder. */
export function openRecipeFile(recipePath: string): Promise<Blob> {
  return openAsBlob(path.resolve(RECIPE_DIR, recipePath));
}

/** A recipe with the test's tasks, short sequences and a fixed seed; defaults filled as parseRecipe fills them. */
export function testRecipe(tasks: readonly unknown[], extra: Record<string, unknown> = {}): Recipe {
  return parseRecipe({ model: { source: MODEL_DIR }, tasks, max_length: 512, seed: 17, steps: 10, ...extra });
}

export const FPB_TASK = {
  name: 'fpb',
  source: { file: 'fpb/Sentences_50Agree.txt', delimiter: '@', header: false },
  format: 'classification',
  columns: { text: 0, label: 1 },
  labels: { negative: 'negative', neutral: 'neutral', positive: 'positive' },
} as const;

export const TWEETS_TASK = {
  name: 'tweets',
  source: { file: 'twitter_fin_sentiment/sent_train.csv' },
  format: 'classification',
  labels: { '0': 'Bearish', '1': 'Bullish', '2': 'Neutral' },
} as const;

export const GSM8K_TASK = { name: 'gsm8k', source: { file: 'gsm8k/train.jsonl' }, format: 'qa' } as const;

export const ALPACA_TASK = { name: 'alpaca', source: { file: 'alpaca/alpaca_en_demo.json' }, format: 'instruction', role: 'regularizer' } as const;

/** The ids that carry loss, in order. */
export function trainedIds(example: { inputIds: Int32Array; labels: Int32Array }): number[] {
  return Array.from(example.inputIds).filter((_, t) => example.labels[t] !== -100);
}

/** Index of the first token that carries loss. */
export function firstTrained(labels: Int32Array): number {
  return labels.findIndex((label) => label !== -100);
}
