import type { ExampleSource, Role } from '../example.ts';

/** turnIndex of a token that belongs to no turn: BOS added by the tokenizer, text and pre-tokenized rows. */
export const NO_TURN = -1;

/** One example as the trainer receives it, with what the token view needs to explain it. */
export interface TokenizedExample {
  readonly source: ExampleSource;
  readonly inputIds: Int32Array;
  /**
   * Aligned with inputIds (Hugging Face convention; the trainer predicts labels[t + 1] from position t):
   * IGNORE_INDEX (-100) where no loss is taken. labels[0] is always -100, since no position predicts
   * the first token, so "trained" means the same thing here, in the statistics and in the loss.
   */
  readonly labels: Int32Array;
  /** Per token, the index of the turn it came from (an appended EOS belongs to the answer it ends), or NO_TURN. */
  readonly turnIndex: Int32Array;
  /** Role of each turn, by turn index; empty for text and pre-tokenized examples. */
  readonly roles: readonly Role[];
  /** Tokens cut off by truncation (0 when the example fit). */
  readonly truncatedTokens: number;
}

/** The three arrays of an encoded example, before truncation. */
export interface EncodedSequence {
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
  readonly turnIndex: Int32Array;
}
