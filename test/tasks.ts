import { readFile } from 'node:fs/promises';
import type { TokenizedExample } from '../app/data/tokenize/types.ts';
import type { TextTokenizer } from '../app/model/tokenizer.ts';
import type { PreparedTask } from '../app/train/task-data.ts';
import { fixturePath } from './fixtures.ts';

/** The fixture data sets as a recipe's tasks are written: source, format and columns. */
const FIXTURE_TASKS = {
  fpb: { source: { file: fixturePath('datasets/fpb/Sentences_50Agree.txt'), delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 } },
  gsm8k: { source: { file: fixturePath('datasets/gsm8k/test.jsonl') }, format: 'qa' },
  alpaca: { source: { file: fixturePath('datasets/alpaca/alpaca_en_demo.json') }, format: 'instruction' },
} as const;

/** A recipe task (its name is the data set's) over a fixture data set, with the test's own fields (max_examples, validation_fraction, role). */
export function fixtureTask(name: keyof typeof FIXTURE_TASKS, fields: Record<string, unknown> = {}) {
  return { name, ...FIXTURE_TASKS[name], ...fields };
}

/**
 * Small real tasks for trainer tests, tokenized directly as plain text (every token trained, EOS
 * appended) so trainer tests do not depend on the import pipeline: FPB sentences and Alpaca outputs.
 */
export async function textTasks(tokenizer: TextTokenizer, options: { count: number; maxTokens: number }): Promise<PreparedTask[]> {
  const fpb = (await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'), 'utf8')).split(/\r?\n/).map((line) => line.split('@')[0]!.trim());
  const alpaca = (JSON.parse(await readFile(fixturePath('datasets/alpaca/alpaca_en_demo.json'), 'utf8')) as { output: string }[]).map((row) => row.output);
  const toExamples = (texts: string[]): TokenizedExample[] =>
    texts
      .filter((text) => text.length > 0)
      .slice(0, options.count)
      .map((text, i) => {
        const ids = [...tokenizer.encode(text).slice(0, options.maxTokens - 1), tokenizer.eosIds[0]!];
        const labels = ids.map((id, t) => (t === 0 ? -100 : id));
        return { source: { row: i + 1 }, inputIds: Int32Array.from(ids), labels: Int32Array.from(labels), turnIndex: new Int32Array(ids.length).fill(-1), roles: [], truncatedTokens: 0 };
      });
  const task = (name: string, texts: string[], role: 'task' | 'regularizer'): PreparedTask => {
    const examples = toExamples(texts);
    return { name, role, metric: 'loss', train: examples, validation: examples.slice(0, 4), validationPrompts: [], meanTokens: examples.reduce((s, e) => s + e.inputIds.length, 0) / examples.length };
  };
  return [task('fpb', fpb, 'task'), task('alpaca', alpaca, 'regularizer')];
}
