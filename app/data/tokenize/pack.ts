/**
 * Packing short examples into sequences of at most maxLength tokens, without attention across them.
 * Each token gets a segment id (1, 2, ... for the examples of its sequence; 0 is left for padding) so
 * the attention kernel lets a token attend only within its own segment, and a position id that
 * restarts at 0 for each example, so every example sees the positions it would see alone. Labels are
 * aligned with input ids and the trainer predicts labels[t + 1] from position t: the first token of
 * every example has label -100, so the last position of one example never learns to predict the first
 * token of the next.
 *
 * Strategies, both deterministic:
 * - "first-fit-decreasing": examples by length, longest first (ties in input order), each into the
 *   first sequence with room, else a new one. Fewest sequences in practice (within 11/9 of optimal).
 * - "greedy": examples in input order, each into the current sequence if it fits, else a new one.
 *   Keeps the input order (and so a shuffle or a curriculum made before packing).
 * Sequences are not padded; a batch pads them to its longest with segment id 0 and label -100.
 */
import { IGNORE_INDEX } from '../example.ts';
import { TokenizeError } from './errors.ts';

export type PackingStrategy = 'first-fit-decreasing' | 'greedy';
export const PACKING_STRATEGIES: readonly PackingStrategy[] = ['first-fit-decreasing', 'greedy'];

export interface PackableExample {
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
}

export interface PackedMember {
  /** Index of the example in the list given to packExamples. */
  readonly index: number;
  /** Where it starts in the sequence. */
  readonly offset: number;
  readonly length: number;
}

export interface PackedSequence {
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
  /** Position of each token within its own example: 0, 1, ... restarting at each example. */
  readonly positionIds: Int32Array;
  /** 1-based index of the token's example within this sequence; attention stays within a segment. */
  readonly segmentIds: Int32Array;
  readonly members: readonly PackedMember[];
}

export function packExamples(examples: readonly PackableExample[], maxLength: number, strategy: PackingStrategy = 'first-fit-decreasing'): PackedSequence[] {
  if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
    throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `The packing length must be a whole number of tokens, at least 1; got ${maxLength}`, { field: 'maxLength' });
  }
  if (!PACKING_STRATEGIES.includes(strategy)) {
    throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `Unknown packing strategy ${JSON.stringify(strategy)}; choose ${PACKING_STRATEGIES.join(' or ')}`, { field: 'packing' });
  }
  examples.forEach((example, index) => {
    if (example.inputIds.length > maxLength) {
      throw new TokenizeError('TOKENIZE_TOO_LONG', `Example ${index} has ${example.inputIds.length} tokens, more than the packing length ${maxLength}; tokenize with maxLength ${maxLength} first`, {
        index,
        length: example.inputIds.length,
      });
    }
  });
  const bins = strategy === 'greedy' ? greedyBins(examples, maxLength) : firstFitDecreasingBins(examples, maxLength);
  return bins.map((members) => buildSequence(examples, members));
}

function greedyBins(examples: readonly PackableExample[], maxLength: number): number[][] {
  const bins: number[][] = [];
  let used = 0;
  examples.forEach((example, index) => {
    const length = example.inputIds.length;
    if (bins.length === 0 || used + length > maxLength) {
      bins.push([]);
      used = 0;
    }
    bins[bins.length - 1]!.push(index);
    used += length;
  });
  return bins;
}

/**
 * First fit in O(n log n): a max segment tree over the room left in each possible sequence (there are
 * at most n). Sequences that are not open yet have all their room, so "the first sequence with room"
 * is the leftmost leaf with enough, open or not.
 */
function firstFitDecreasingBins(examples: readonly PackableExample[], maxLength: number): number[][] {
  const order = examples.map((_, index) => index).sort((a, b) => examples[b]!.inputIds.length - examples[a]!.inputIds.length || a - b);
  let leaves = 1;
  while (leaves < examples.length) leaves *= 2;
  const room = new Int32Array(2 * leaves).fill(maxLength);
  const bins: number[][] = [];
  for (const index of order) {
    const length = examples[index]!.inputIds.length;
    let node = 1;
    while (node < leaves) node = room[2 * node]! >= length ? 2 * node : 2 * node + 1;
    const bin = node - leaves;
    (bins[bin] ??= []).push(index);
    room[node] = room[node]! - length;
    for (node >>= 1; node >= 1; node >>= 1) room[node] = Math.max(room[2 * node]!, room[2 * node + 1]!);
  }
  return bins;
}

function buildSequence(examples: readonly PackableExample[], indices: readonly number[]): PackedSequence {
  const length = indices.reduce((sum, index) => sum + examples[index]!.inputIds.length, 0);
  const sequence = {
    inputIds: new Int32Array(length),
    labels: new Int32Array(length),
    positionIds: new Int32Array(length),
    segmentIds: new Int32Array(length),
  };
  const members: PackedMember[] = [];
  let offset = 0;
  indices.forEach((index, segment) => {
    const example = examples[index]!;
    const size = example.inputIds.length;
    sequence.inputIds.set(example.inputIds, offset);
    sequence.labels.set(example.labels, offset);
    if (size > 0) sequence.labels[offset] = IGNORE_INDEX;
    for (let t = 0; t < size; t++) sequence.positionIds[offset + t] = t;
    sequence.segmentIds.fill(segment + 1, offset, offset + size);
    members.push({ index, offset, length: size });
    offset += size;
  });
  return { ...sequence, members };
}
