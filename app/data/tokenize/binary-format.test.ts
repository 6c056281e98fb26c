import { describe, expect, it } from 'vitest';
import { decodeTokenizedExamples, encodeTokenizedExamples } from './binary-format.ts';
import { chatTokenizer, gsm8kExamples, SMOLLM2_TEMPLATE } from './test-support.ts';
import { tokenizeTask } from './tokenize-task.ts';
import type { TokenizedExample } from './types.ts';

async function realExamples(): Promise<readonly TokenizedExample[]> {
  const tokenizer = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], bos: '<|im_start|>', eos: '<|im_end|>' });
  return (await tokenizeTask((await gsm8kExamples()).slice(0, 30), tokenizer, { template: { kind: 'chat' }, maxLength: 300 }, { task: 'gsm8k' })).examples;
}

const plainExample = (example: TokenizedExample) => ({ ...example, inputIds: Array.from(example.inputIds), labels: Array.from(example.labels), turnIndex: Array.from(example.turnIndex) });

describe('tokenized examples as bytes', () => {
  it('gives back identical examples: arrays, rows, lines, roles and truncation', async () => {
    const examples = await realExamples();
    expect(examples.some((example) => example.truncatedTokens > 0)).toBe(true);
    const decoded = decodeTokenizedExamples(encodeTokenizedExamples(examples), 514);
    expect(decoded.map(plainExample)).toEqual(examples.map(plainExample));
    expect(decoded[0]!.inputIds).toBeInstanceOf(Int32Array);
  });

  it('handles no examples, and examples without a line or turns', () => {
    expect(decodeTokenizedExamples(encodeTokenizedExamples([]), 10)).toEqual([]);
    const text: TokenizedExample = { source: { row: 4 }, inputIds: Int32Array.from([1, 5, 2]), labels: Int32Array.from([-100, 5, 2]), turnIndex: Int32Array.from([-1, -1, -1]), roles: [], truncatedTokens: 0 };
    expect(decodeTokenizedExamples(encodeTokenizedExamples([text]), 10).map(plainExample)).toEqual([plainExample(text)]);
  });

  it('reads bytes that do not start on a 4-byte boundary', async () => {
    const bytes = encodeTokenizedExamples(await realExamples());
    const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
    shifted.set(bytes);
    expect(decodeTokenizedExamples(shifted, 514)).toHaveLength(30);
  });

  it.each([
    ['bytes cut short', (bytes: Uint8Array) => bytes.subarray(0, bytes.byteLength - 4), /words for 2 examples/],
    ['a wrong magic number', (bytes: Uint8Array) => bytes.map((b, i) => (i === 0 ? b ^ 0xff : b)), /wrong magic number/],
    ['another format version', (bytes: Uint8Array) => bytes.map((b, i) => (i === 4 ? 9 : b)), /format version 9/],
    ['a token id outside the vocabulary', (bytes: Uint8Array) => withWord(bytes, -23, 600), /id 600 outside \[0, 512\)/],
    ['decreasing offsets', (bytes: Uint8Array) => withWord(bytes, 6, 99), /token offsets decrease/],
  ])('refuses %s', (_, damage, message) => {
    const examples: TokenizedExample[] = [1, 2].map((row) => ({
      source: { row, line: row + 1 },
      inputIds: Int32Array.from([1, 300, 301, 2]),
      labels: Int32Array.from([-100, -100, 301, 2]),
      turnIndex: Int32Array.from([-1, 0, 1, 1]),
      roles: ['user', 'assistant'],
      truncatedTokens: 0,
    }));
    const bytes = encodeTokenizedExamples(examples);
    expect(() => decodeTokenizedExamples(damage(bytes), 512)).toThrow(expect.objectContaining({ code: 'TOKENIZE_CACHE_CORRUPT', message: expect.stringMatching(message) }));
  });
});

/** The bytes with one 32-bit word replaced; a negative index counts from the end (the last 24 words are inputIds, labels, turnIndex). */
function withWord(bytes: Uint8Array, index: number, value: number): Uint8Array {
  const copy = bytes.slice();
  const words = new Int32Array(copy.buffer);
  words[index < 0 ? words.length + index : index] = value;
  return copy;
}
