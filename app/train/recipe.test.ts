import { describe, expect, it } from 'vitest';
import type { RecipeError } from './recipe.ts';
import { canonicalJson, parseRecipe, recipeHash } from './recipe.ts';

const minimal = {
  model: { source: '../shared/fixtures/models/aidreams260K' },
  tasks: [
    { name: 'fpb', source: { file: 'fpb/Sentences_50Agree.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'accuracy' },
    { name: 'alpaca', source: { file: 'alpaca/alpaca_en_demo.json' }, format: 'instruction', role: 'regularizer' },
  ],
  steps: 30,
};

function problemsOf(recipe: unknown): string[] {
  try {
    parseRecipe(recipe);
  } catch (error) {
    return (error as RecipeError).problems.map((p) => `${p.path || '(recipe)'}: ${p.message}`);
  }
  return [];
}

describe('recipes', () => {
  it('fills every default a run needs', () => {
    const recipe = parseRecipe(minimal);
    expect(recipe.model.revision).toBe('main');
    expect(recipe.lora).toEqual({ r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], rslora: false, layout: 'shared' });
    expect(recipe.optimizer).toEqual({ lr: 0.0002, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 });
    expect(recipe.mixture).toEqual({ strategy: 'proportional', per: 'example' });
    expect(recipe.tasks[0]!.role).toBe('task');
    expect(recipe.tasks[1]!.role).toBe('regularizer');
    expect(recipe).toMatchObject({ batch_size: 8, grad_accum: 1, max_length: 512, clip: 1, seed: 0, nonfinite: 'skip' });
  });

  it('gives a Hub task source the default config and split', () => {
    const recipe = parseRecipe({ ...minimal, tasks: [{ name: 'tweets', source: { hub: 'zeroshot/twitter-financial-news-sentiment' }, format: 'classification' }] });
    expect(recipe.tasks[0]!.source).toEqual({ hub: 'zeroshot/twitter-financial-news-sentiment', config: 'default', split: 'train' });
  });

  it('does not change the object it was given', () => {
    const copy = structuredClone(minimal);
    parseRecipe(copy);
    expect(copy).toEqual(minimal);
  });

  it('reports every problem at once, each with the path of its field', () => {
    const problems = problemsOf({
      ...minimal,
      tasks: [{ ...minimal.tasks[0], format: 'csv' }, { ...minimal.tasks[1], source: {} }],
      lora: { r: 0, targets: ['c_attn'] },
      learning_rate: 1e-4,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        '(recipe): unknown field "learning_rate"',
        'tasks[0].format: must be one of "tokens", "instruction", "messages", "prompt_completion", "text", "classification", "qa"',
        'tasks[1].source: needs "file"',
        'tasks[1].source: needs "hub"',
        'lora.r: must be at least 1',
        'lora.targets[0]: must be one of "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv_proj", "gate_up_proj"',
      ]),
    );
  });

  it('takes how a task file is read: its format and, for plain text, how it splits into rows', () => {
    const text = { name: 'notes', source: { file: 'notes.txt', file_format: 'text', splitting: 'paragraphs' }, format: 'text' };
    const jsonl = { name: 'qa', source: { file: 'qa.json', validation_file: 'qa-val.json', file_format: 'jsonl' }, format: 'qa' };
    const recipe = parseRecipe({ ...minimal, tasks: [text, jsonl] });
    expect(recipe.tasks[0]!.source).toEqual({ file: 'notes.txt', file_format: 'text', splitting: 'paragraphs' });
    expect(recipe.tasks[1]!.source).toEqual({ file: 'qa.json', validation_file: 'qa-val.json', file_format: 'jsonl' });
    expect(parseRecipe(minimal).tasks[0]!.source).toEqual(minimal.tasks[0]!.source);
  });

  it('refuses a file format or splitting it does not know, and splitting without plain text, each at its path', () => {
    expect(problemsOf({ ...minimal, tasks: [{ ...minimal.tasks[0], source: { file: 'a.tsv', file_format: 'tsv' } }] })).toContain(
      'tasks[0].source.file_format: must be one of "jsonl", "json", "csv", "parquet", "text"',
    );
    expect(problemsOf({ ...minimal, tasks: [{ ...minimal.tasks[0], source: { file: 'a.txt', file_format: 'text', splitting: 'sentences' } }] })).toContain(
      'tasks[0].source.splitting: must be one of "lines", "paragraphs"',
    );
    expect(problemsOf({ ...minimal, tasks: [minimal.tasks[0], { ...minimal.tasks[1], source: { file: 'a.json', splitting: 'paragraphs' } }] })).toEqual([
      'tasks[1].source.splitting: applies to plain text only: give "file_format": "text" with it, or remove it',
    ]);
    expect(problemsOf({ ...minimal, tasks: [{ ...minimal.tasks[0], source: { hub: 'owner/data', file_format: 'csv' } }] })).toContain('tasks[0].source: unknown field "file_format"');
  });

  it('says a recipe needs steps or epochs, and not both', () => {
    expect(problemsOf({ ...minimal, steps: undefined })).toEqual(['steps: give "steps" or "epochs"']);
    expect(problemsOf({ ...minimal, epochs: 2 })).toEqual(['epochs: give "steps" or "epochs", not both']);
  });

  it('refuses duplicate task names and weights for unknown tasks', () => {
    const problems = problemsOf({ ...minimal, tasks: [minimal.tasks[0], minimal.tasks[0]], mixture: { strategy: 'manual', weights: { fpb: 1, tweets: 2 } } });
    expect(problems).toEqual(['tasks[1].name: "fpb" is used by another task; task names must be unique', 'mixture.weights.tweets: names no task; tasks are "fpb", "fpb"']);
  });

  it('asks for a temperature with the temperature strategy', () => {
    expect(problemsOf({ ...minimal, mixture: { strategy: 'temperature' } })).toEqual(['mixture.temperature: the temperature strategy needs a temperature (e.g. 2)']);
  });

  it('names the file and the JSON error for text that is not JSON', () => {
    expect(() => parseRecipe('{"model": ', 'finance.recipe.json')).toThrow(/finance\.recipe\.json has 1 problem:\n {2}\(recipe\): not valid JSON/);
  });

  it('hashes equal recipes equally whatever their key order, and different ones differently', async () => {
    const a = parseRecipe(minimal);
    const b = parseRecipe(JSON.parse(canonicalJson(minimal)));
    expect(await recipeHash(a)).toBe(await recipeHash(b));
    expect(await recipeHash(a)).not.toBe(await recipeHash(parseRecipe({ ...minimal, seed: 1 })));
  });
});
