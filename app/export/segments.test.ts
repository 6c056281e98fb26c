import { describe, expect, it } from 'vitest';
import type { ConversationExample } from '../data/example.ts';
import { createExampleTokenizer } from '../data/tokenize/example-tokenizer.ts';
import { chatTokenizer, fixtureTokenizer, SMOLLM2_TEMPLATE } from '../data/tokenize/test-support.ts';
import { asPromptCompletion, exampleRow, withoutUntrainedTail, type Segment } from './segments.ts';

const conversation: ConversationExample = {
  kind: 'conversation',
  source: { row: 1 },
  turns: [
    { role: 'user', content: 'What is 2 + 2?', train: false },
    { role: 'assistant', content: 'It is 4.', train: true },
    { role: 'user', content: 'And 3 + 3?', train: false },
    { role: 'assistant', content: 'It is 6.', train: true },
  ],
};

/** The runs of consecutive labelled tokens of a tokenized example, decoded. */
function trainedRuns(tokenizer: { decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string }, labels: Int32Array): string[] {
  const runs: number[][] = [];
  labels.forEach((label, i) => {
    if (label === -100) return;
    if (i > 0 && labels[i - 1] !== -100 && runs.length > 0) runs.at(-1)!.push(label);
    else runs.push([label]);
  });
  return runs.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: false }));
}

describe('exampleRow', () => {
  it('renders a chat with the model\'s chat template: the text is the template\'s, the trained segments the tokens we train', () => {
    const tokenizer = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], eos: '<|im_end|>' });
    const row = exampleRow(conversation, { kind: 'chat' }, tokenizer, false, 'test');
    if (row.kind !== 'segments') throw new Error(`expected segments, got ${row.kind}`);
    expect(row.segments.map((s) => s.text).join('')).toBe(tokenizer.applyChatTemplate(conversation.turns.map(({ role, content }) => ({ role, content }))));
    const tokenized = createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'test').tokenize(conversation).example;
    // Decoding puts a space after a special token, so the texts are compared without whitespace.
    const squeeze = (texts: string[]) => texts.map((text) => text.replace(/\s+/g, ''));
    expect(squeeze(row.segments.filter((s) => s.train).map((s) => s.text))).toEqual(squeeze(trainedRuns(tokenizer, tokenized.labels)));
    // Two answers with loss: no prompt/completion form.
    expect(asPromptCompletion(row.segments)).toBeUndefined();
  });

  it('renders with a plain template and writes out the EOS our tokenizer appends', async () => {
    const tokenizer = await fixtureTokenizer();
    const single: ConversationExample = { ...conversation, turns: conversation.turns.slice(0, 2) };
    const row = exampleRow(single, { kind: 'plain', name: 'question-answer' }, tokenizer, false, 'test');
    expect(row).toEqual({ kind: 'segments', segments: [{ text: 'Question: What is 2 + 2?\nAnswer: ', train: false }, { text: `It is 4.${tokenizer.eosToken}`, train: true }] });
    expect(asPromptCompletion((row as { segments: Segment[] }).segments)).toEqual({ prompt: 'Question: What is 2 + 2?\nAnswer: ', completion: `It is 4.${tokenizer.eosToken}` });
  });

  it('drops only untrained text after the last answer, which no loss depends on', () => {
    const segments: Segment[] = [
      { text: 'a', train: false },
      { text: 'b', train: true },
      { text: '\n', train: false },
    ];
    expect(withoutUntrainedTail(segments)).toEqual(segments.slice(0, 2));
    expect(withoutUntrainedTail(segments.slice(0, 2))).toEqual(segments.slice(0, 2));
  });
});
