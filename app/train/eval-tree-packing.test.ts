import { describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { IGNORE_INDEX } from './batch.ts';
import { candidateTree, MAX_BRANCHES_PER_ROW, packTrees, treeFits } from './eval-tree-packing.ts';

const _ = IGNORE_INDEX;

/** A candidate whose loss covers positions scoreFrom and after (as evaluation builds them). */
function candidate(ids: number[], scoreFrom: number): TokenizedExample {
  return { source: { row: 0 }, inputIds: Int32Array.from(ids), labels: Int32Array.from(ids, (id, t) => (t >= scoreFrom ? id : _)), turnIndex: new Int32Array(ids.length), roles: [], truncatedTokens: 0 };
}

describe('candidate trees (a prompt computed once, each candidate a branch)', () => {
  it('shares the prompt up to the position that predicts the first scored token', () => {
    const tree = candidateTree([candidate([1, 7, 8, 9, 40], 4), candidate([1, 7, 8, 9, 41, 42], 4), candidate([1, 7, 8, 9, 43, 44, 45], 4)]);
    // Position 3 (token 9) predicts each candidate's first scored token, so it belongs to every branch.
    expect(tree.shared).toBe(3);
    expect(tree.length).toBe(3 + 2 + 3 + 4);
  });

  it('stops sharing where the candidates part, when that is earlier, and at the earliest scored position of any', () => {
    expect(candidateTree([candidate([1, 7, 8, 9, 40], 4), candidate([1, 7, 5, 9, 41], 4)]).shared).toBe(2);
    expect(candidateTree([candidate([1, 7, 8, 9, 40], 4), candidate([1, 7, 8, 9, 41], 2)]).shared).toBe(1);
    // Scored from its first token: nothing can be shared (its first target is predicted from position 0).
    expect(candidateTree([candidate([1, 7], 1), candidate([1, 8], 1)]).shared).toBe(0);
  });

  it('fits a tree only within a row, 32 branches and the smallest sliding window', () => {
    const tree = candidateTree([candidate([1, 7, 8, 40], 3), candidate([1, 7, 8, 41, 42], 3)]);
    expect(tree.length).toBe(2 + 2 + 3);
    expect(treeFits(tree, 7, null)).toBe(true);
    expect(treeFits(tree, 6, null)).toBe(false);
    expect(treeFits(tree, 16, 7)).toBe(true);
    expect(treeFits(tree, 16, 6)).toBe(false);
    const wide = candidateTree(Array.from({ length: MAX_BRANCHES_PER_ROW + 1 }, (_, c) => candidate([1, 7, 50 + c], 2)));
    expect(treeFits(wide, 100, null)).toBe(false);
  });
});

describe('packing candidate trees into rows', () => {
  it('lays out the prefix once and each branch after it, with their positions, bit sets and shifted targets', () => {
    const first = candidateTree([candidate([1, 7, 8, 40], 3), candidate([1, 7, 8, 41, 42], 3)]);
    const second = candidateTree([candidate([1, 9, 60], 2), candidate([1, 9, 61], 2), candidate([1, 9, 62, 63], 2)]);
    const [packed, ...rest] = packTrees([first, second], 2, 16);
    expect(rest).toHaveLength(0);
    const { batch, places, segmentBits } = packed!;
    expect(segmentBits).toBe(true);
    expect([batch.B, batch.T]).toEqual([1, 16]);
    // Tree 1: prefix [1 7] (bits 1|2), branches [8 40] (1), [8 41 42] (2); tree 2: prefix [1] (4|8|16), branches [9 60] (4), [9 61] (8), [9 62 63] (16).
    expect(Array.from(batch.ids)).toEqual([1, 7, 8, 40, 8, 41, 42, 1, 9, 60, 9, 61, 9, 62, 63, 0]);
    expect(Array.from(batch.positions)).toEqual([0, 1, 2, 3, 2, 3, 4, 0, 1, 2, 1, 2, 1, 2, 3, 15]);
    expect(Array.from(batch.segments)).toEqual([3, 3, 1, 1, 2, 2, 2, 28, 4, 4, 8, 8, 16, 16, 16, 0]);
    expect(Array.from(batch.targets)).toEqual([_, _, 40, _, 41, 42, _, _, 60, _, 61, _, 62, 63, _, _]);
    expect(places).toEqual([
      { sequence: 0, start: 2, length: 2 },
      { sequence: 1, start: 4, length: 3 },
      { sequence: 2, start: 8, length: 2 },
      { sequence: 3, start: 10, length: 2 },
      { sequence: 4, start: 12, length: 3 },
    ]);
    expect(batch.labelCount).toBe(1 + 2 + 1 + 1 + 2);
  });

  it('starts a new row when the tokens or the 32 bits run out, and a new batch after B rows', () => {
    const ofBranches = (count: number) => candidateTree(Array.from({ length: count }, (_, c) => candidate([1, 7, 50 + c], 2)));
    // 20 + 20 branches exceed 32 bits though 2·41 tokens fit a row of 128.
    const byBits = packTrees([ofBranches(20), ofBranches(20)], 4, 128);
    expect(byBits).toHaveLength(1);
    expect(byBits[0]!.batch.B).toBe(2);
    expect(byBits[0]!.batch.segments[0]).toBe(2 ** 20 - 1);
    expect(byBits[0]!.batch.segments[128]).toBe(2 ** 20 - 1);
    // The 32nd bit is bit 31: an unsigned id.
    const full = packTrees([ofBranches(32)], 1, 128)[0]!;
    expect(full.batch.segments[0]).toBe(2 ** 32 - 1);
    expect(full.batch.segments[1 + 2 * 31]).toBe(2 ** 31);
    // Trees of 1 + 2·2 tokens: three fit a row of 16, the fourth starts the next; B = 1 makes it a second batch.
    const byTokens = packTrees([ofBranches(2), ofBranches(2), ofBranches(2), ofBranches(2)], 1, 16);
    expect(byTokens.map(({ places }) => places.map(({ sequence }) => sequence))).toEqual([[0, 1, 2, 3, 4, 5], [6, 7]]);
    expect(byTokens[1]!.places[0]).toEqual({ sequence: 6, start: 1, length: 2 });
  });

  it('refuses a tree that does not fit a row', () => {
    const tree = candidateTree([candidate([1, 7, 8, 40], 3), candidate([1, 7, 8, 41, 42], 3)]);
    expect(() => packTrees([tree], 1, 6)).toThrow(/a tree of 7 tokens and 2 branches does not fit a row of 6 tokens/);
  });
});
