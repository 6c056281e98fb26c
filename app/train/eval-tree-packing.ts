/**
 * Candidate trees: a prompt's label candidates scored with the prompt computed once. Scoring label
 * words one sequence per (prompt, candidate) repeats the whole prompt per candidate; here a prompt's
 * candidates become one tree in a row of T tokens — the tokens they share once, then each candidate's
 * own branch — and attention reads the row's segment ids as bit sets (AttentionInputs.segmentBits):
 * each branch has one bit, the shared prefix the OR of its branches' bits, trees of one row disjoint
 * bits. A branch's tokens then see the prefix and their own branch's earlier tokens, never a sibling,
 * and keep the positions they have alone (RoPE reads the positions, not the index in the row), so every
 * candidate's per-token losses are those it has alone, up to float summation order.
 *
 * One position has one target, and a candidate's first scored token is predicted from the position
 * before it: the shared prefix stops before the first position any candidate takes a loss at (batch.ts
 * shifts labels: the loss at position t predicts labels[t + 1]), so the prefix carries no target.
 */
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { IGNORE_INDEX, type ExampleSpan, type HostBatch } from './batch.ts';
import type { PackedBatch } from './eval-packing.ts';

/** Branches one row can hold: one bit each of a u32 segment id. */
export const MAX_BRANCHES_PER_ROW = 32;

/** How a group of candidates lays out as a tree: `shared` tokens once, then each candidate's tokens from there. */
export interface CandidateTree {
  candidates: readonly TokenizedExample[];
  shared: number;
  /** Tokens of the whole tree: shared + Σ (candidate length − shared). */
  length: number;
}

/**
 * The tree of one prompt's candidates: shared = the longest common prefix of their ids, cut before the
 * position that predicts any candidate's first scored token, and leaving each candidate a token of its own.
 */
export function candidateTree(candidates: readonly TokenizedExample[]): CandidateTree {
  let shared = Math.min(...candidates.map((candidate) => Math.min(firstScored(candidate) - 1, candidate.inputIds.length - 1)));
  const first = candidates[0]!.inputIds;
  for (let t = 0; t < shared; t++) {
    if (candidates.some((candidate) => candidate.inputIds[t] !== first[t])) shared = t;
  }
  shared = Math.max(0, shared);
  return { candidates, shared, length: shared + candidates.reduce((sum, candidate) => sum + candidate.inputIds.length - shared, 0) };
}

/**
 * Whether a tree can replace its candidates' separate sequences exactly: it fits one row of T, has at
 * most MAX_BRANCHES_PER_ROW branches, and is no longer than the model's smallest sliding window
 * (`window`, or null for none). Attention windows compare indices in the row, and a branch sits further
 * from the prefix in the row than in positions by its earlier siblings' lengths; within a window's
 * length nothing is cut either way.
 */
export function treeFits(tree: CandidateTree, T: number, window: number | null): boolean {
  return tree.candidates.length >= 1 && tree.candidates.length <= MAX_BRANCHES_PER_ROW && tree.length <= T && (window === null || tree.length <= window);
}

/**
 * Packs trees in order (next fit: a row takes trees while their tokens fit T and their branches fit 32
 * bits; a batch takes B rows). `places` name each candidate by its index in the trees' candidates laid
 * end to end, and cover its branch: the positions whose targets are its scored tokens.
 */
export function packTrees(trees: readonly CandidateTree[], B: number, T: number): PackedBatch[] {
  const rows: number[][] = [];
  let used = T;
  let bits = MAX_BRANCHES_PER_ROW;
  trees.forEach((tree, index) => {
    if (!treeFits(tree, T, null)) throw new RangeError(`packTrees: a tree of ${tree.length} tokens and ${tree.candidates.length} branches does not fit a row of ${T} tokens and ${MAX_BRANCHES_PER_ROW} bits`);
    if (used + tree.length > T || bits + tree.candidates.length > MAX_BRANCHES_PER_ROW) {
      rows.push([]);
      used = 0;
      bits = 0;
    }
    rows.at(-1)!.push(index);
    used += tree.length;
    bits += tree.candidates.length;
  });
  const firstCandidate: number[] = [];
  trees.reduce((count, tree) => (firstCandidate.push(count), count + tree.candidates.length), 0);
  const batches: PackedBatch[] = [];
  for (let first = 0; first < rows.length; first += B) {
    const members = rows.slice(first, first + B);
    const { batch, branches } = treeRowsBatch(members.map((row) => row.map((index) => trees[index]!)), T);
    const order = members.flatMap((row) => row.flatMap((index) => trees[index]!.candidates.map((_, c) => firstCandidate[index]! + c)));
    batches.push({ batch, segmentBits: true, places: branches.map((span, i) => ({ sequence: order[i]!, start: span.row * T + span.start, length: span.length })) });
  }
  return batches;
}

/** Rows of trees padded to T: ids, positions, bit-set segments and shifted targets; `branches` in row order. */
function treeRowsBatch(rows: readonly (readonly CandidateTree[])[], T: number): { batch: HostBatch; branches: ExampleSpan[] } {
  const B = rows.length;
  const ids = new Uint32Array(B * T);
  const positions = new Uint32Array(B * T);
  const segments = new Uint32Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const rowLabels = new Int32Array(B);
  const branches: ExampleSpan[] = [];
  rows.forEach((trees, row) => {
    let start = 0;
    let bit = 0;
    for (const { candidates, shared } of trees) {
      const bits = candidates.map(() => (1 << bit++) >>> 0);
      const prefixBits = bits.reduce((all, one) => all | one, 0) >>> 0;
      // The prefix's targets stay IGNORE_INDEX: it ends before any candidate's first scored position.
      for (let t = 0; t < shared; t++) {
        ids[row * T + start + t] = candidates[0]!.inputIds[t]!;
        positions[row * T + start + t] = t;
        segments[row * T + start + t] = prefixBits;
      }
      start += shared;
      candidates.forEach((candidate, c) => {
        const n = candidate.inputIds.length;
        let labels = 0;
        for (let t = shared; t < n; t++) {
          const at = row * T + start + t - shared;
          ids[at] = candidate.inputIds[t]!;
          positions[at] = t;
          segments[at] = bits[c]!;
          const target = t + 1 < n ? candidate.labels[t + 1]! : IGNORE_INDEX;
          targets[at] = target;
          if (target !== IGNORE_INDEX) labels++;
        }
        branches.push({ row, start, length: n - shared, task: 0, labels });
        rowLabels[row]! += labels;
        start += n - shared;
      });
    }
    // Padding needs valid positions for RoPE; attention masks it out (segment 0) and it carries no loss.
    for (let t = start; t < T; t++) positions[row * T + t] = t;
  });
  const labelCount = rowLabels.reduce((sum, labels) => sum + labels, 0);
  return { batch: { B, T, ids, positions, segments, targets, rowTask: new Int32Array(B), rowLabels, spans: branches, labelCount }, branches };
}

/** The first position whose label is scored (its length when none is). */
function firstScored(candidate: TokenizedExample): number {
  const index = candidate.labels.findIndex((label) => label !== IGNORE_INDEX);
  return index < 0 ? candidate.inputIds.length : index;
}
