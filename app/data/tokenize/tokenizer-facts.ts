/**
 * What tokenization needs to know about a tokenizer beyond encode(): which ids it puts before a text
 * on its own (BOS for Llama-style tokenizers, nothing for Qwen's), which id to append as EOS, and which
 * ids end generation. Found once per task by probing, so any tokenizer.json works the same way.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';

export interface TokenizerFacts {
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** The ids encode() adds before a text with special tokens on (e.g. [BOS]); often empty. */
  readonly leadingIds: readonly number[];
  /** The id appended after an answer: the tokenizer's eos_token when it is one token, else the first EOS id. */
  readonly eosToAppend: number | null;
  readonly eosIds: ReadonlySet<number>;
}

const PROBE = 'a';

export function tokenizerFacts(tokenizer: TextTokenizer): TokenizerFacts {
  return {
    vocabSize: tokenizer.vocabSize,
    bosId: tokenizer.bosId,
    leadingIds: leadingIds(tokenizer),
    eosToAppend: eosToAppend(tokenizer),
    eosIds: new Set(tokenizer.eosIds),
  };
}

function leadingIds(tokenizer: TextTokenizer): number[] {
  const withSpecial = tokenizer.encode(PROBE);
  const plain = tokenizer.encode(PROBE, { addSpecialTokens: false });
  for (let start = 0; start + plain.length <= withSpecial.length; start++) {
    if (plain.every((id, i) => withSpecial[start + i] === id)) return withSpecial.slice(0, start);
  }
  // A post-processor that rewrites the text's own tokens: keep only a BOS it evidently adds.
  const first = withSpecial[0];
  return first !== undefined && first === tokenizer.bosId ? [first] : [];
}

function eosToAppend(tokenizer: TextTokenizer): number | null {
  if (tokenizer.eosToken !== null) {
    const ids = tokenizer.encode(tokenizer.eosToken, { addSpecialTokens: false });
    if (ids.length === 1 && tokenizer.eosIds.includes(ids[0]!)) return ids[0]!;
  }
  return tokenizer.eosIds[0] ?? null;
}

/** The leading ids to put before `ids`: none when the text already begins with them or with BOS (a template's bos_token). */
export function leadingIdsFor(facts: TokenizerFacts, ids: readonly number[]): readonly number[] {
  if (facts.leadingIds.length === 0) return facts.leadingIds;
  if (facts.bosId !== null && ids[0] === facts.bosId) return [];
  if (facts.leadingIds.every((id, i) => ids[i] === id)) return [];
  return facts.leadingIds;
}
