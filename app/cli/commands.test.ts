import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureTask } from '../../test/tasks.ts';
import { prepareTasks } from '../train/prepare.ts';
import { fixtureTokenizer } from '../train/prepare/test-support.ts';
import { parseRecipe } from '../train/recipe.ts';
import { main, USAGE } from './main.ts';

/** Runs a command in this process and returns what it printed to stdout and stderr. */
async function cocktail(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void out.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void err.push(parts.join(' ')));
  try {
    const code = await main(args);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function writeRecipe(recipe: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cocktail-cli-'));
  dirs.push(dir);
  const path = join(dir, 'recipe.json');
  await writeFile(path, JSON.stringify(recipe));
  return path;
}

describe('cocktail import', () => {
  it('reads the Financial PhraseBank with --delimiter @: 4,846 rows, two columns, no header', async () => {
    const { code, stdout } = await cocktail('import', '--file', fixturePath('datasets/fpb/Sentences_50Agree.txt'), '--delimiter', '@', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ rows: 4846, format: 'csv', delimiter: '@', header: false });
    expect(report.columns).toHaveLength(2);
    expect(Array.isArray(report.errors)).toBe(true);
  });

  it('detects the tweets CSV: comma, header, the text and label columns', async () => {
    const { stdout } = await cocktail('import', '--file', fixturePath('datasets/twitter_fin_sentiment/sent_valid.csv'), '--json');
    expect(JSON.parse(stdout)).toMatchObject({ format: 'csv', delimiter: ',', delimiterDetected: true, header: true, columns: ['text', 'label'] });
  });

  it('refuses an unknown format and names the ones there are', async () => {
    const { code, stderr } = await cocktail('import', '--file', fixturePath('datasets/gsm8k/test.jsonl'), '--format', 'xlsx');
    expect(code).toBe(1);
    expect(stderr).toContain('--format "xlsx" is not one of jsonl, json, csv, parquet, text');
  });
});

describe('cocktail mix', () => {
  it('prints every draw in order; the counts follow the temperature strategy\'s probabilities (chi-square)', { timeout: 120_000 }, async () => {
    const recipe = await writeRecipe({
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [
        fixtureTask('fpb', { max_examples: 90 }),
        { name: 'tweets', source: { file: fixturePath('datasets/twitter_fin_sentiment/sent_valid.csv') }, format: 'classification', columns: { text: 'text', label: 'label' }, max_examples: 10 },
        fixtureTask('gsm8k', { columns: { question: 'question', answer: 'answer' }, max_examples: 40 }),
      ],
      mixture: { strategy: 'temperature', temperature: 3 },
      lora: { r: 4, alpha: 8, targets: ['q_proj'] },
      batch_size: 4,
      max_length: 128,
      steps: 5,
      seed: 5,
    });
    const { code, stdout } = await cocktail('mix', '--recipe', recipe, '--steps', '300', '--json');
    expect(code).toBe(0);
    const mix = JSON.parse(stdout) as { tasks: { examples: number }[]; sequence: number[]; counts: number[]; expected: number[][] };
    expect(mix.sequence).toHaveLength(300 * 4);
    expect(mix.counts).toEqual([0, 1, 2].map((task) => mix.sequence.filter((t) => t === task).length));
    // The probabilities, from the task sizes here: pᵢ ∝ nᵢ^(1/3).
    const weights = mix.tasks.map((task) => task.examples ** (1 / 3));
    const probabilities = weights.map((w) => w / weights.reduce((a, b) => a + b, 0));
    expect(mix.expected).toHaveLength(300);
    for (const step of mix.expected) probabilities.forEach((p, i) => expect(step[i]).toBeCloseTo(p, 12));
    const chiSquare = mix.counts.reduce((sum, count, i) => sum + (count - 1200 * probabilities[i]!) ** 2 / (1200 * probabilities[i]!), 0);
    expect(chiSquare).toBeLessThan(13.82); // the 0.999 quantile of chi-square with 2 degrees of freedom
  });
});

describe('cocktail mix at a max_length past the model\'s context', () => {
  it('prepares the tasks at the model\'s 128 positions, as a run does, and says so on stderr', { timeout: 120_000 }, async () => {
    const tasks = [{ name: 'tweets', source: { file: fixturePath('datasets/twitter_fin_sentiment/sent_train.csv') }, format: 'classification', columns: { text: 'text', label: 'label' }, labels: { '0': 'Bearish', '1': 'Bullish', '2': 'Neutral' }, max_examples: 300 }];
    const base = { model: { source: fixturePath('models/aidreams260K') }, tasks, lora: { r: 4, alpha: 8, targets: ['q_proj'] }, batch_size: 4, steps: 5, seed: 5 };
    const long = await cocktail('mix', '--recipe', await writeRecipe({ ...base, max_length: 1024 }), '--json');
    const fitting = await cocktail('mix', '--recipe', await writeRecipe({ ...base, max_length: 128 }), '--json');
    expect(long.code).toBe(0);
    expect(long.stderr).toBe("max_length 1024 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128.");
    expect(fitting.stderr).toBe('');
    // The same examples and draws as the recipe at 128, where some tweets lose their whole answer and are dropped ...
    expect(JSON.parse(long.stdout)).toEqual(JSON.parse(fitting.stdout));
    // ... which preparing at 1024 keeps: the clamp changed what was counted.
    const tokenizer = await fixtureTokenizer();
    const unclamped = await prepareTasks(parseRecipe({ ...base, max_length: 1024 }), { tokenizer, openFile: (path) => openAsBlob(path) });
    const examples = (JSON.parse(long.stdout) as { tasks: { examples: number }[] }).tasks[0]!.examples;
    expect(unclamped.tasks[0]!.train.length).toBeGreaterThan(examples);
  });
});

describe('cocktail audit at a max_length past the model\'s context', () => {
  it('audits the tasks at the model\'s 128 positions, as a run prepares them, and says so on stderr', { timeout: 120_000 }, async () => {
    const cache = await mkdtemp(join(tmpdir(), 'cocktail-audit-cache-'));
    dirs.push(cache);
    vi.stubEnv('COCKTAIL_CACHE', cache);
    try {
      const tasks = [fixtureTask('fpb', { max_examples: 300 })];
      const base = { model: { source: fixturePath('models/aidreams260K') }, tasks, batch_size: 4, steps: 5, seed: 5 };
      const long = await cocktail('audit', '--recipe', await writeRecipe({ ...base, max_length: 1024 }), '--json');
      const fitting = await cocktail('audit', '--recipe', await writeRecipe({ ...base, max_length: 128 }), '--json');
      expect(long.code).toBe(0);
      expect(long.stderr).toBe("max_length 1024 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128.");
      expect(fitting.stderr).toBe('');
      const report = JSON.parse(long.stdout) as { tasks: { fpb: { lengths: { max: number; truncated_share: number } } } };
      // Rows longer than 128 tokens are cut there: audited at an unclamped 1024 they would not be.
      expect(report.tasks.fpb.lengths.max).toBeGreaterThan(128);
      expect(report.tasks.fpb.lengths.truncated_share).toBeGreaterThan(0);
      expect(report).toEqual(JSON.parse(fitting.stdout));
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('a task file the importer cannot read as rows', () => {
  it('is refused with the importer\'s cause and the file\'s name: one JSON object where an array of rows was expected', async () => {
    const recipe = await writeRecipe({
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [{ name: 'greet', source: { file: 'one-object.json' }, format: 'instruction' }],
      lora: { r: 4, alpha: 8, targets: ['q_proj'] },
      batch_size: 2,
      max_length: 64,
      steps: 2,
    });
    await writeFile(join(recipe, '..', 'one-object.json'), JSON.stringify({ instruction: 'Say hi', input: '', output: 'hi' }));
    const { code, stdout, stderr } = await cocktail('mix', '--recipe', recipe, '--json');
    expect(code).toBe(1);
    const event = JSON.parse(stdout) as { event: string; code: string; message: string; details: { file: string } };
    expect(event).toMatchObject({ event: 'error', code: 'PREPARE_FILE_INVALID', details: { file: 'one-object.json' } });
    expect(event.message).toContain('Task "greet" (one-object.json): none of its 3 record(s) could be read as a row of fields');
    expect(event.message).toContain('expected a JSON object of fields under key "instruction", found a string ("Say hi"); the file looks like one JSON object, not rows');
    expect(event.message).not.toContain('MISSING_COLUMN');
    expect(stderr).toContain('[PREPARE_FILE_INVALID]');
  });
});

describe('cocktail help', () => {
  it('lists each environment variable once', async () => {
    const { stdout } = await cocktail('help');
    expect(stdout).toBe(USAGE);
    for (const name of ['VK_ICD_FILENAMES', 'HF_ENDPOINT', 'HF_TOKEN', 'COCKTAIL_CACHE']) expect(stdout.split(name).length - 1, name).toBe(1);
    for (const command of ['import', 'mix', 'export']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });
});

describe('cocktail export', () => {
  it('refuses an unknown target with the list of targets', async () => {
    const { code, stderr } = await cocktail('export', '--recipe', 'r.json', '--target', 'unsloth', '--out', 'x');
    expect(code).toBe(1);
    expect(stderr).toContain('unknown export target "unsloth"; the targets are axolotl, llamafactory, trl');
  });
});
