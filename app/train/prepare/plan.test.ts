/**
 * What is checked about a task before any file is read: its format, the parts its columns name, its
 * labels, template and metric. Each mistake is reported with the task's name, and no file is opened.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { prepareTasks } from '../prepare.ts';
import { parseRecipe, type Recipe, type RecipeTask } from '../recipe.ts';
import { planMapping } from './format-mapping.ts';
import { fixtureTokenizer, FPB_TASK, GSM8K_TASK, MODEL_DIR, testRecipe, TWEETS_TASK } from './test-support.ts';

let tokenizer: TextTokenizer;
beforeAll(async () => {
  tokenizer = await fixtureTokenizer();
});

/** Prepares the recipe with an openFile that records every path asked for. */
async function failure(recipe: Recipe): Promise<{ error: unknown; opened: string[] }> {
  const opened: string[] = [];
  const openFile = async (file: string): Promise<Blob> => {
    opened.push(file);
    return new Blob(['']);
  };
  const error = await prepareTasks(recipe, { tokenizer, openFile }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, opened };
}

describe('checking every task before reading a file', () => {
  it('refuses a columns key that is no part of the format, listing the parts it has', async () => {
    const { error, opened } = await failure(testRecipe([FPB_TASK, { ...GSM8K_TASK, columns: { question: 'question', solution: 'answer' } }]));
    expect(error).toMatchObject({
      code: 'PREPARE_BAD_MAPPING',
      message: 'Task "gsm8k": columns.solution is not a part of the qa format; its parts are question, answer, answer_marker, answer_pattern.',
    });
    expect(opened).toEqual([]);
  });

  it('refuses a format it does not know', async () => {
    const recipe = testRecipe([FPB_TASK]);
    recipe.tasks.push({ ...recipe.tasks[0]!, name: 'csv', format: 'csv' as RecipeTask['format'] });
    const { error, opened } = await failure(recipe);
    expect(error).toMatchObject({
      code: 'PREPARE_UNKNOWN_FORMAT',
      message: 'Task "csv": format "csv" is not one of instruction, messages, prompt_completion, text, classification, qa, tokens.',
    });
    expect(opened).toEqual([]);
  });

  it('refuses labels on a task that is not classification, and a malformed classification template', async () => {
    expect((await failure(testRecipe([{ ...GSM8K_TASK, labels: { a: 'A' } }]))).error).toMatchObject({
      code: 'PREPARE_BAD_MAPPING',
      message: 'Task "gsm8k": "labels" (a verbalizer) applies to classification tasks only; this task\'s format is qa.',
    });
    const { error, opened } = await failure(testRecipe([{ ...TWEETS_TASK, template: 'Tweet: {text} Label: {label}' }]));
    expect(error).toMatchObject({ code: 'PREPARE_BAD_MAPPING', details: { task: 'tweets', cause: 'DATA_BAD_MAPPING' } });
    expect((error as Error).message).toMatch(/^Task "tweets": The classification template .* would give the answer away\.$/);
    expect(opened).toEqual([]);
  });

  it('refuses the chat template for a model without one, and a template it cannot read', async () => {
    expect((await failure(testRecipe([{ ...GSM8K_TASK, template: 'chat' }]))).error).toMatchObject({ code: 'PREPARE_BAD_TEMPLATE', details: { task: 'gsm8k' } });
    expect((await failure(testRecipe([{ ...GSM8K_TASK, template: 'chatml' }]))).error).toMatchObject({
      code: 'PREPARE_BAD_TEMPLATE',
      message: 'Task "gsm8k": template "chatml" is not "chat", a plain template (instruction-response, alpaca, question-answer, user-assistant, bare), or a template with {placeholders}.',
    });
    expect((await failure(testRecipe([{ name: 'alpaca', source: { file: 'a.json' }, format: 'instruction', template: 'Do: {instruction}' }]))).error).toMatchObject({
      code: 'PREPARE_BAD_TEMPLATE',
    });
  });

  it('refuses a metric that needs an answer on a task that has none', async () => {
    const recipe = parseRecipe({ model: { source: MODEL_DIR }, tasks: [{ name: 'corpus', source: { file: 'a.txt' }, format: 'text', metric: 'rouge_l' }], steps: 1 });
    expect((await failure(recipe)).error).toMatchObject({
      code: 'PREPARE_BAD_METRIC',
      message: 'Task "corpus": a text task has no answer to compare, so rouge_l cannot score it; use "loss".',
    });
  });
});

describe('recipe columns to app/data mappings', () => {
  const task = (fields: Partial<RecipeTask>): RecipeTask => ({ name: 't', source: { file: 'f' }, format: 'text', role: 'task', validation_fraction: 0.1, ...fields });

  it('turns chat role names and answer markers, which live in columns, into the mapping', () => {
    const chat = planMapping(task({ format: 'messages', columns: { messages: 'conversations', user_role: 'human', assistant_role: 'bot' } }), { vocabSize: 512 });
    expect(chat.forFile(['conversations'], 'f')).toEqual({ format: 'chat', messages: 'conversations', roles: { human: 'user', bot: 'assistant' } });
    const qa = planMapping(task({ format: 'qa', columns: { answer_marker: 'The answer is' } }), { vocabSize: 512 });
    expect(qa.forFile(['question', 'answer'], 'f')).toEqual({ format: 'question-answer', extractor: { kind: 'after-marker', marker: 'The answer is', removeThousandsSeparators: true } });
    const tokens = planMapping(task({ format: 'tokens', columns: { input_ids: 1 } }), { vocabSize: 512 });
    expect(tokens.forFile(['id', 'ids'], 'f')).toEqual({ format: 'tokens', inputIds: 'ids', vocabSize: 512 });
  });

  it('refuses a column position that is not a whole number, and a setting given as a number', () => {
    expect(() => planMapping(task({ format: 'text', columns: { text: -1 } }), { vocabSize: 512 })).toThrow('Task "t": columns.text must be a column name or a position counting from 0, got -1.');
    expect(() => planMapping(task({ format: 'qa', columns: { answer_marker: 3 } }), { vocabSize: 512 })).toThrow('columns.answer_marker is a setting, not a column');
  });
});
