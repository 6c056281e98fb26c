import { describe, expect, it } from 'vitest';
import { createTokenizer } from '../../model/tokenizer.ts';
import { IGNORE_INDEX, type ConversationExample, type Example, type Turn } from '../example.ts';
import { createExampleTokenizer } from './example-tokenizer.ts';
import { PLAIN_TEMPLATES, plainGenerationPrompt } from './plain-templates.ts';
import {
  alpacaExamples,
  chatTokenizer,
  fixtureTokenizer,
  fixtureTokenizerJson,
  gsm8kExamples,
  LLAMA3_TEMPLATE,
  QWEN25_TEMPLATE,
  SMOLLM2_TEMPLATE,
  trainedIds,
  tweetTextExamples,
} from './test-support.ts';
import { NO_TURN } from './types.ts';

const BOS = 1;
const EOS = 2;
const count = (ids: Int32Array, id: number) => ids.filter((x) => x === id).length;
const answerOf = (example: Example) => (example as ConversationExample).turns.at(-1)!.content;

const conversation = (turns: Turn[], row = 1): ConversationExample => ({ kind: 'conversation', source: { row, line: row + 1 }, turns });
const TWO_ROUNDS = conversation([
  { role: 'user', content: 'What is 2+2?', train: false },
  { role: 'assistant', content: 'Four.', train: true },
  { role: 'user', content: 'And 3+3?', train: false },
  { role: 'assistant', content: 'Six.', train: true },
]);

describe('conversations with a plain template', () => {
  it('trains exactly the answer of a real Alpaca row, then EOS, after one BOS', async () => {
    const tokenizer = await fixtureTokenizer();
    const [example] = await alpacaExamples();
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'alpaca' } }, 'alpaca_en_demo.json').tokenize(example!);
    const { inputIds, labels } = tokenized;
    expect(inputIds[0]).toBe(BOS);
    expect(count(inputIds, BOS)).toBe(1);
    expect(labels[0]).toBe(IGNORE_INDEX);
    const trained = trainedIds(tokenized);
    expect(trained.at(-1)).toBe(EOS);
    expect(tokenizer.decode(trained.slice(0, -1))).toBe(answerOf(example!));
    // Everything before the answer is the prompt the model will be given at inference, untrained.
    const firstTrained = labels.findIndex((label) => label !== IGNORE_INDEX);
    const prompt = plainGenerationPrompt(PLAIN_TEMPLATES.alpaca, (example as ConversationExample).turns.slice(0, -1));
    expect(tokenizer.decode(Array.from(inputIds.subarray(1, firstTrained)))).toBe(prompt);
    expect(Array.from(labels.subarray(firstTrained))).toEqual(Array.from(inputIds.subarray(firstTrained)));
  });

  it('takes loss on every token but the first when training on prompts', async () => {
    const tokenizer = await fixtureTokenizer();
    const [example] = await gsm8kExamples();
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'question-answer' }, trainOnPrompts: true }, 'train.jsonl').tokenize(example!);
    expect(tokenized.labels[0]).toBe(IGNORE_INDEX);
    expect(Array.from(tokenized.labels.subarray(1))).toEqual(Array.from(tokenized.inputIds.subarray(1)));
  });

  it('appends no EOS when asked not to', async () => {
    const tokenizer = await fixtureTokenizer();
    const [example] = await gsm8kExamples();
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' }, appendEos: false }, 'train.jsonl').tokenize(example!);
    expect(count(tokenized.inputIds, EOS)).toBe(0);
    expect(tokenizer.decode(trainedIds(tokenized))).toBe(answerOf(example!));
  });

  it('ends every trained answer of a multi-turn conversation with a trained EOS of that turn', async () => {
    const tokenizer = await fixtureTokenizer();
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'user-assistant' } }, 'chat.jsonl').tokenize(TWO_ROUNDS);
    const eosPositions = Array.from(example.inputIds.keys()).filter((t) => example.inputIds[t] === EOS);
    expect(eosPositions.map((t) => [example.labels[t], example.turnIndex[t]])).toEqual([
      [EOS, 1],
      [EOS, 3],
    ]);
    const trainedOfTurn = (turn: number) => Array.from(example.inputIds).filter((_, t) => example.turnIndex[t] === turn && example.labels[t] !== IGNORE_INDEX);
    expect([0, 1, 2, 3].map((turn) => trainedOfTurn(turn).length)).toEqual([0, expect.any(Number), 0, expect.any(Number)]);
    expect([1, 3].map((turn) => tokenizer.decode(trainedOfTurn(turn)))).toEqual(['Four.</s>', 'Six.</s>']);
    expect(example.roles).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('gives every token the turn it came from, in order, and BOS no turn', async () => {
    const tokenizer = await fixtureTokenizer();
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'instruction-response' } }, 'chat.jsonl').tokenize(TWO_ROUNDS);
    expect(example.turnIndex[0]).toBe(NO_TURN);
    const turns = Array.from(example.turnIndex.subarray(1));
    expect(turns).toEqual([...turns].sort((a, b) => a - b));
    const textOfTurn = (turn: number) => tokenizer.decode(Array.from(example.inputIds).filter((_, t) => example.turnIndex[t] === turn), { skipSpecialTokens: true });
    expect([0, 1, 2, 3].map(textOfTurn)).toEqual(['### Instruction:\nWhat is 2+2?', '\n\n### Response:\nFour.', '\n\n### Instruction:\nAnd 3+3?', '\n\n### Response:\nSix.']);
  });
});

describe('conversations with a chat template', () => {
  it('SmolLM2 with its special tokens: no BOS added (the template writes it), no EOS appended (<|im_end|> is EOS), the header untrained', async () => {
    const tokenizer = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], bos: '<|im_start|>', eos: '<|im_end|>' });
    const [example] = await gsm8kExamples();
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'train.jsonl').tokenize(example!);
    expect(tokenized.inputIds[0]).toBe(512);
    expect(count(tokenized.inputIds, BOS)).toBe(0);
    expect(count(tokenized.inputIds, EOS)).toBe(0);
    const trained = trainedIds(tokenized);
    expect(tokenizer.decode(trained)).toBe(`${answerOf(example!)}<|im_end|> \n`);
    expect(trained.filter((id) => id === 513)).toHaveLength(1);
  });

  it('Qwen2.5 with its markers as plain text: one BOS from the tokenizer, and EOS after each trained answer’s <|im_end|>', async () => {
    const tokenizer = chatTokenizer(QWEN25_TEMPLATE);
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'chat.jsonl').tokenize(TWO_ROUNDS);
    expect(example.inputIds[0]).toBe(BOS);
    expect(count(example.inputIds, BOS)).toBe(1);
    expect(tokenizer.decode(trainedIds(example))).toBe('Four.<|im_end|>\n</s>Six.<|im_end|>\n</s>');
    expect(example.inputIds.at(-1)).toBe(EOS);
    expect(example.turnIndex.at(-1)).toBe(3);
  });

  it('Llama 3: the BOS the template writes is the only one', async () => {
    const tokenizer = chatTokenizer(LLAMA3_TEMPLATE);
    const [example] = await gsm8kExamples();
    const { example: tokenized } = createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'train.jsonl').tokenize(example!);
    expect(tokenized.inputIds[0]).toBe(BOS);
    expect(count(tokenized.inputIds, BOS)).toBe(1);
    expect(tokenizer.decode(trainedIds(tokenized))).toBe(`${answerOf(example!).trim()}<|eot_id|></s>`);
  });

  it('Zephyr: the template writes the model’s own EOS after each answer, so none is appended', async () => {
    const zephyr = "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
    const tokenizer = chatTokenizer(zephyr);
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'chat.jsonl').tokenize(TWO_ROUNDS);
    expect(count(example.inputIds, EOS)).toBe(4);
    expect(tokenizer.decode(trainedIds(example))).toBe('Four.</s> \nSix.</s> \n');
  });

  it('refuses the chat template for a model that has none, before any example', async () => {
    const tokenizer = await fixtureTokenizer();
    expect(() => createExampleTokenizer(tokenizer, { template: { kind: 'chat' } }, 'train.jsonl')).toThrow(
      expect.objectContaining({ code: 'TOKENIZE_NO_CHAT_TEMPLATE', message: expect.stringMatching(/^train\.jsonl: the model has no chat template; choose a plain template \(instruction-response, alpaca/) }),
    );
  });
});

describe('text and pre-tokenized examples', () => {
  it('trains every token of a real tweet after BOS, and EOS', async () => {
    const tokenizer = await fixtureTokenizer();
    const [tweet] = await tweetTextExamples();
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' } }, 'sent_train.csv').tokenize(tweet!);
    expect(example.inputIds[0]).toBe(BOS);
    expect(example.inputIds.at(-1)).toBe(EOS);
    expect(tokenizer.decode(trainedIds(example), { skipSpecialTokens: true })).toBe((tweet as { text: string }).text);
    expect(Array.from(example.labels.subarray(1))).toEqual(Array.from(example.inputIds.subarray(1)));
    expect(example.turnIndex.every((turn) => turn === NO_TURN)).toBe(true);
    expect(example.roles).toEqual([]);
  });

  it('passes pre-tokenized rows through, with the unused first label set to -100', async () => {
    const tokenizer = await fixtureTokenizer();
    const inputIds = Int32Array.from([1, 300, 301, 302, 2]);
    const labels = Int32Array.from([1, -100, 301, 302, 2]);
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' } }, 'tokens.jsonl').tokenize({ kind: 'tokens', source: { row: 1 }, inputIds, labels });
    expect(Array.from(example.inputIds)).toEqual([1, 300, 301, 302, 2]);
    expect(Array.from(example.labels)).toEqual([-100, -100, 301, 302, 2]);
    expect(labels[0]).toBe(1);
  });

  it.each([
    ['an id outside the vocabulary', [1, 512, 3], [1, 512, 3], 'field "input_ids": token 2 is 512, outside this tokenizer\'s vocabulary [0, 512); the rows were made with another tokenizer'],
    ['lengths that differ', [1, 2, 3], [1, 2], 'field "labels": 3 input_ids but 2 labels; they must have the same length'],
    ['a label that is neither -100 nor an id', [1, 2, 3], [1, -1, 3], 'field "labels": label 2 is -1; a label is -100 or a token id in [0, 512)'],
  ])('refuses a pre-tokenized row with %s, naming the file, row and field', async (_, ids, labels, message) => {
    const tokenizer = await fixtureTokenizer();
    const example: Example = { kind: 'tokens', source: { row: 3, line: 4 }, inputIds: Int32Array.from(ids), labels: Int32Array.from(labels) };
    expect(() => createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' } }, 'tokens.jsonl').tokenize(example)).toThrow(
      expect.objectContaining({ code: 'TOKENIZE_BAD_TOKENS', message: `tokens.jsonl, line 4 (row 3), ${message}` }),
    );
  });

  it('says what to do when EOS is needed and the tokenizer has none, and needs none when EOS is off', () => {
    const tokenizer = createTokenizer(fixtureTokenizerJson(), { bos_token: '<s>' });
    const text: Example = { kind: 'text', source: { row: 2 }, text: 'Revenue rose.' };
    expect(() => createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' } }, 'corpus.txt').tokenize(text)).toThrow(
      expect.objectContaining({ code: 'TOKENIZE_NO_EOS', message: expect.stringMatching(/^corpus\.txt, row 2: the tokenizer has no EOS token/) }),
    );
    const { example } = createExampleTokenizer(tokenizer, { template: { kind: 'plain', name: 'bare' }, appendEos: false }, 'corpus.txt').tokenize(text);
    expect(tokenizer.decode(Array.from(example.inputIds), { skipSpecialTokens: true })).toBe('Revenue rose.');
  });
});
