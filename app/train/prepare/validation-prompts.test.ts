/**
 * Validation prompts with a model's chat template, and for multi-turn chat files: the prompt is the
 * conversation up to its last assistant turn with the generation prompt, in the ids training saw.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chatTokenizer, SMOLLM2_TEMPLATE } from '../../data/tokenize/test-support.ts';
import { prepareTasks } from '../prepare.ts';
import { firstTrained, fixtureTokenizer, FPB_TASK, openRecipeFile, RECIPE_DIR, testRecipe, trainedIds } from './test-support.ts';

describe('validation prompts', () => {
  it('end with the chat template’s generation prompt and are the ids before each answer', async () => {
    const tokenizer = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], bos: '<|im_start|>', eos: '<|im_end|>' });
    const recipe = testRecipe([{ ...FPB_TASK, validation_fraction: 0.01, max_examples: 50 }], { max_length: 256 });
    const { tasks, reports } = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile });
    expect(reports[0]!.template).toEqual({ kind: 'chat' });
    const task = tasks[0]!;
    expect(task.validationPrompts).toHaveLength(task.validation.length);
    let whole = 0;
    task.validation.forEach((example, i) => {
      const { promptIds, expected } = task.validationPrompts[i]!;
      // (The fixture's decoder writes a space after each special token.)
      expect(tokenizer.decode(Array.from(promptIds))).toMatch(/Answer with one of: negative, neutral, positive\.<\|im_end\|> ?\n<\|im_start\|> ?assistant\n$/);
      if (example.truncatedTokens > 0) return;
      whole++;
      expect(Array.from(promptIds)).toEqual(Array.from(example.inputIds.subarray(0, firstTrained(example.labels))));
      // The answer and the template's own end of turn (its EOS, and the newline after it).
      expect(tokenizer.decode(trainedIds(example))).toMatch(new RegExp(`^${expected}<\\|im_end\\|> ?\n$`));
    });
    expect(whole).toBeGreaterThan(20);
  });

  it('ask for the last assistant turn of a multi-turn chat, with the file’s own role names', async () => {
    const tokenizer = await fixtureTokenizer();
    // Real Alpaca rows as ShareGPT conversations whose assistant is called "bot"; every third holds two exchanges.
    const rows = JSON.parse(await readFile(path.resolve(RECIPE_DIR, 'alpaca/alpaca_en_demo.json'), 'utf8')) as { instruction: string; input: string; output: string }[];
    const exchange = (row: (typeof rows)[number]) => [
      { from: 'human', value: row.input ? `${row.instruction}\n\n${row.input}` : row.instruction },
      { from: 'bot', value: row.output },
    ];
    const lines = rows.slice(0, 120).map((row, i) => JSON.stringify({ conversations: i % 3 === 0 ? [...exchange(rows[i + 500]!), ...exchange(row)] : exchange(row) }));
    const openFile = async () => new Blob([lines.join('\n')]);
    const recipe = testRecipe([{ name: 'chat', source: { file: 'chat.jsonl' }, format: 'messages', columns: { assistant_role: 'bot' }, validation_fraction: 0.25 }], { max_length: 512 });
    const { tasks, reports } = await prepareTasks(recipe, { tokenizer, openFile });
    expect(reports[0]).toMatchObject({ rows: 120, droppedRows: 0, metric: 'rouge_l', template: { kind: 'plain', name: 'user-assistant' } });
    expect(reports[0]!.mapping).toEqual({ format: 'chat', roles: { bot: 'assistant' } });
    const task = tasks[0]!;
    expect(task.validationPrompts).toHaveLength(30);
    let wholeTwoExchanges = 0;
    task.validation.forEach((example, i) => {
      const { promptIds, expected } = task.validationPrompts[i]!;
      const twoExchanges = (example.source.row - 1) % 3 === 0;
      expect(expected).toBe(rows[example.source.row - 1]!.output);
      const prompt = tokenizer.decode(Array.from(promptIds), { skipSpecialTokens: true });
      expect(prompt).toMatch(/\nAssistant: ?$/);
      if (promptIds.length === 511) return; // cut from the left: the first exchange may be gone
      expect(prompt.startsWith('User: ')).toBe(true);
      expect(prompt.split('\nAssistant:').length - 1).toBe(twoExchanges ? 2 : 1);
      if (twoExchanges) wholeTwoExchanges++;
    });
    expect(wholeTwoExchanges).toBeGreaterThan(2);
  });
});
