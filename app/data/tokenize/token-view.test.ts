import { describe, expect, it } from 'vitest';
import type { ConversationExample } from '../example.ts';
import { createExampleTokenizer } from './example-tokenizer.ts';
import { PLAIN_TEMPLATES, renderPlainConversation } from './plain-templates.ts';
import { displayToken, tokenDisplayStyle } from './token-display.ts';
import { tokenView } from './token-view.ts';
import { alpacaExamples, chatTokenizer, fixtureTokenizer, gsm8kExamples, SMOLLM2_TEMPLATE, tweetTextExamples } from './test-support.ts';
import { tokenizeTask } from './tokenize-task.ts';
import type { TokenizedExample } from './types.ts';

function expectViewAgreesWithLabels(example: TokenizedExample, view: ReturnType<typeof tokenView>): void {
  expect(view).toHaveLength(example.inputIds.length);
  view.forEach((entry, t) => {
    expect(entry.id).toBe(example.inputIds[t]);
    expect(entry.label).toBe(example.labels[t]);
    expect(entry.trained).toBe(example.labels[t] !== -100);
  });
}

describe('the token view', () => {
  it('marks as trained exactly the tokens whose label the trainer receives, for plain and chat templates, text, and truncated examples', async () => {
    const plain = await fixtureTokenizer();
    const chat = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], bos: '<|im_start|>', eos: '<|im_end|>' });
    const gsm8k = (await gsm8kExamples()).slice(0, 20);
    const cases = [
      { tokenizer: plain, task: await tokenizeTask(gsm8k, plain, { template: { kind: 'plain', name: 'alpaca' }, maxLength: 200 }, { task: 'gsm8k' }) },
      { tokenizer: chat, task: await tokenizeTask(gsm8k, chat, { template: { kind: 'chat' } }, { task: 'gsm8k' }) },
      { tokenizer: chat, task: await tokenizeTask((await alpacaExamples()).slice(0, 20), chat, { template: { kind: 'chat' }, trainOnPrompts: true }, { task: 'alpaca' }) },
      { tokenizer: plain, task: await tokenizeTask((await tweetTextExamples()).slice(0, 20), plain, { template: { kind: 'plain', name: 'bare' } }, { task: 'tweets' }) },
    ];
    for (const { tokenizer, task } of cases) {
      expect(task.examples.length).toBeGreaterThan(0);
      for (const example of task.examples) expectViewAgreesWithLabels(example, tokenView(example, tokenizer));
    }
  });

  it('spells out the rendered text, token by token, with ▁ as a space and byte pieces as their character', async () => {
    const tokenizer = await fixtureTokenizer();
    const [example] = (await gsm8kExamples()) as ConversationExample[];
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'question-answer' } }, 'train.jsonl').tokenize(example!);
    const view = tokenView(tokenized, tokenizer);
    const text = renderPlainConversation(PLAIN_TEMPLATES['question-answer'], example!.turns, false).text;
    // The fixture's normalizer puts "▁" before the text, hence the leading space.
    expect(view.filter((entry) => !entry.special).map((entry) => entry.token).join('')).toBe(` ${text}`);
    expect(view[0]).toMatchObject({ token: '<s>', special: true, trained: false, turn: -1, role: null });
    expect(view.at(-1)).toMatchObject({ token: '</s>', special: true, trained: true, turn: 1, role: 'assistant' });
    expect(view.find((entry) => entry.piece === '<0x0A>')?.token).toBe('\n');
  });

  it('reads SentencePiece and byte-level vocabularies', async () => {
    expect(tokenDisplayStyle(await fixtureTokenizer())).toBe('sentencepiece');
    expect(tokenDisplayStyle({ encode: () => [0, 1], idToToken: (id) => ['Ġa', 'Ġb'][id] })).toBe('byte-level');
    expect(['▁the', '<0x0A>', '<0xE2>', 'ing'].map((piece) => displayToken(piece, 'sentencepiece'))).toEqual([' the', '\n', '<0xE2>', 'ing']);
    // GPT-2's byte alphabet: Ġ is a space, Ċ a newline, "âĢĶ" the three bytes of an em dash, "âĢ" only two of them.
    expect(['Ġthe', 'Ċ', 'âĢĶ', 'âĢ', '<|im_start|>'].map((piece) => displayToken(piece, 'byte-level'))).toEqual([' the', '\n', '—', '<0xE2><0x80>', '<|im_start|>']);
  });
});
