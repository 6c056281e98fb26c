/**
 * Character offsets of a text mapped to token positions of its encoding, using only encode(): the
 * tokenizer does not report offsets, and decoding is lossy (normalizers, byte fallback). For an offset
 * c, the encoding of text[0, c) is compared with the encoding of the whole text. If it is a prefix of
 * it, the first tokens cover exactly text[0, c) and the boundary is exact. Otherwise a token was merged
 * across c (BPE is not prefix-stable inside a word): the common prefix is what lies wholly before c,
 * and the next offset after c where the encoding is a prefix again marks where tokens lie wholly after
 * c; the tokens in between may straddle c (the one merged across it, and perhaps a neighbour whose
 * merges changed with it). Encoding text[c, end) instead would not do: a normalizer that prepends "▁"
 * makes its first token look like one that starts a character earlier.
 *
 * Templates put special tokens (<|im_end|>, <|eot_id|>) or newlines at turn boundaries, so boundaries are
 * nearly always exact; where they are not, the caller decides which side the straddling tokens join.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';

export interface TokenBoundary {
  /** Tokens [0, before) lie wholly before the offset. */
  readonly before: number;
  /** Tokens [after, length) lie wholly at or after it; tokens [before, after) may straddle it. */
  readonly after: number;
}

export type BoundaryFinder = (offset: number) => TokenBoundary;

export function createBoundaryFinder(tokenizer: Pick<TextTokenizer, 'encode'>, text: string, ids: readonly number[]): BoundaryFinder {
  const known = new Map<number, TokenBoundary>();
  return (offset) => {
    if (offset <= 0) return { before: 0, after: 0 };
    if (offset >= text.length) return { before: ids.length, after: ids.length };
    let boundary = known.get(offset);
    if (!boundary) {
      boundary = findBoundary(tokenizer, text, ids, offset);
      known.set(offset, boundary);
    }
    return boundary;
  };
}

function findBoundary(tokenizer: Pick<TextTokenizer, 'encode'>, text: string, ids: readonly number[], offset: number): TokenBoundary {
  const head = tokenizer.encode(text.slice(0, offset), { addSpecialTokens: false });
  const before = commonPrefix(head, ids);
  if (before === head.length) return { before, after: before };
  // The straddling token usually ends within a few characters: probe them one by one, then in doubling
  // steps, so a long unbroken run costs about log(length) encodings for a few tokens of slack.
  for (let next = offset + 1, probes = 1; next < text.length; probes++) {
    const after = exactPrefix(tokenizer, text, ids, next);
    if (after !== undefined) return { before, after: Math.max(before, after) };
    next += probes < LINEAR_PROBES ? 1 : 2 ** (probes - LINEAR_PROBES + 1);
  }
  return { before, after: ids.length };
}

/** Offsets probed one by one after an inexact offset before the steps start doubling. */
const LINEAR_PROBES = 16;

/** The number of tokens that cover exactly text[0, offset), when the encoding has such a prefix. */
function exactPrefix(tokenizer: Pick<TextTokenizer, 'encode'>, text: string, ids: readonly number[], offset: number): number | undefined {
  const head = tokenizer.encode(text.slice(0, offset), { addSpecialTokens: false });
  return commonPrefix(head, ids) === head.length ? head.length : undefined;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a[length] === b[length]) length++;
  return length;
}
