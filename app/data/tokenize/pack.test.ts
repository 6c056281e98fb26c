import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../example.ts';
import { packExamples, type PackableExample, type PackedSequence } from './pack.ts';
import { packingStatistics } from './statistics.ts';
import { fixtureTokenizer, fpbExamples } from './test-support.ts';
import { tokenizeTask } from './tokenize-task.ts';

/** An example of `length` tokens whose ids tell where they came from: 1000·(index + 1) + position. */
function example(index: number, length: number): PackableExample {
  const inputIds = Int32Array.from({ length }, (_, t) => 1000 * (index + 1) + t);
  const labels = inputIds.slice();
  labels[0] = IGNORE_INDEX;
  return { inputIds, labels };
}

/** First fit as the textbook says it, scanning every open sequence. */
function naiveFirstFitDecreasing(lengths: readonly number[], maxLength: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const bins: { room: number; members: number[] }[] = [];
  for (const index of order) {
    const bin = bins.find((candidate) => candidate.room >= lengths[index]!) ?? bins[bins.push({ room: maxLength, members: [] }) - 1]!;
    bin.room -= lengths[index]!;
    bin.members.push(index);
  }
  return bins.map((bin) => bin.members);
}

function checkSequences(sequences: readonly PackedSequence[], examples: readonly PackableExample[], maxLength: number): void {
  const seen = sequences.flatMap((sequence) => sequence.members.map((member) => member.index)).sort((a, b) => a - b);
  expect(seen).toEqual(examples.map((_, i) => i));
  for (const sequence of sequences) {
    expect(sequence.inputIds.length).toBeLessThanOrEqual(maxLength);
    sequence.members.forEach((member, segment) => {
      const source = examples[member.index]!;
      const range = [member.offset, member.offset + member.length] as const;
      expect(Array.from(sequence.inputIds.subarray(...range))).toEqual(Array.from(source.inputIds));
      expect(Array.from(sequence.labels.subarray(...range))).toEqual(Array.from(source.labels));
      expect(Array.from(sequence.positionIds.subarray(...range))).toEqual(Array.from({ length: member.length }, (_, t) => t));
      expect(sequence.segmentIds.subarray(...range).every((id) => id === segment + 1)).toBe(true);
      // The last position of the example before must not learn to predict this example's first token.
      expect(sequence.labels[member.offset]).toBe(IGNORE_INDEX);
    });
  }
}

describe('packing examples into sequences', () => {
  const lengths = [5, 3, 7, 2, 6, 4, 1, 8];
  const examples = lengths.map((length, i) => example(i, length));

  it('packs first-fit-decreasing: longest first, each into the first sequence with room', () => {
    const sequences = packExamples(examples, 10, 'first-fit-decreasing');
    expect(sequences.map((sequence) => sequence.members.map((member) => member.index))).toEqual([
      [7, 3], // 8 + 2
      [2, 1], // 7 + 3
      [4, 5], // 6 + 4
      [0, 6], // 5 + 1
    ]);
    checkSequences(sequences, examples, 10);
  });

  it('packs greedily in input order, keeping the order', () => {
    const sequences = packExamples(examples, 10, 'greedy');
    expect(sequences.map((sequence) => sequence.members.map((member) => member.index))).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    checkSequences(sequences, examples, 10);
  });

  it('places examples exactly as textbook first-fit-decreasing does, on many random lengths', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 20; trial++) {
      const maxLength = 16 + Math.floor(random() * 200);
      const randomLengths = Array.from({ length: 1 + Math.floor(random() * 300) }, () => 1 + Math.floor(random() * maxLength));
      const randomExamples = randomLengths.map((length, i) => example(i, length));
      const sequences = packExamples(randomExamples, maxLength);
      expect(sequences.map((sequence) => sequence.members.map((member) => member.index))).toEqual(naiveFirstFitDecreasing(randomLengths, maxLength));
      checkSequences(sequences, randomExamples, maxLength);
    }
  });

  it('packs nothing into no sequences', () => {
    expect(packExamples([], 16)).toEqual([]);
  });

  it('refuses an example longer than the sequence, and lengths or strategies that make no sense', () => {
    expect(() => packExamples(examples, 7)).toThrow(expect.objectContaining({ code: 'TOKENIZE_TOO_LONG', message: expect.stringContaining('Example 7 has 8 tokens, more than the packing length 7') }));
    expect(() => packExamples(examples, 0)).toThrow(expect.objectContaining({ code: 'TOKENIZE_BAD_OPTIONS' }));
    expect(() => packExamples(examples, 10, 'best-fit' as never)).toThrow(expect.objectContaining({ code: 'TOKENIZE_BAD_OPTIONS' }));
  });

  it('fills sequences of real Financial PhraseBank examples almost completely', async () => {
    const tokenizer = await fixtureTokenizer();
    const task = await tokenizeTask((await fpbExamples()).slice(0, 1000), tokenizer, { template: { kind: 'plain', name: 'bare' }, maxLength: 512 }, { task: 'fpb' });
    const packed = packExamples(task.examples, 512);
    checkSequences(packed, task.examples, 512);
    const greedy = packExamples(task.examples, 512, 'greedy');
    const stats = packingStatistics(packed, 512);
    expect(stats.fill).toBeGreaterThan(0.98);
    expect(stats.sequences).toBeLessThanOrEqual(greedy.length);
    expect(stats.tokens).toBe(task.examples.reduce((sum, e) => sum + e.inputIds.length, 0));
    expect(stats.meanExamplesPerSequence).toBeCloseTo(1000 / stats.sequences, 10);
  }, 60_000);
});
