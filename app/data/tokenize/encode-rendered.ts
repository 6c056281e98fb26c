/**
 * A rendered conversation to token ids, labels and the turn of every token. The whole text is encoded
 * once (so the ids are exactly those the model sees at inference, merges across turn boundaries
 * included); character spans become token ranges through token-boundaries.ts:
 *
 * - a token that may hold a character of a loss span carries loss, so a token merged across the start of
 *   an answer is trained (the model has to produce it) and so is one merged across its end;
 * - a token merged across the boundary of two turns belongs to the earlier turn;
 * - after each trained assistant turn whose tokens hold no EOS id, EOS is inserted as a token and
 *   trained, so the model learns to stop (a template's own <|im_end|> or <|eot_id|> counts when the
 *   tokenizer lists it as EOS);
 * - the tokenizer's leading ids (BOS) go first unless the text already starts with BOS (a template
 *   that writes bos_token), so BOS is never doubled.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { IGNORE_INDEX, type Role } from '../example.ts';
import { TokenizeError } from './errors.ts';
import type { RenderedConversation } from './rendered.ts';
import { createBoundaryFinder } from './token-boundaries.ts';
import { leadingIdsFor, type TokenizerFacts } from './tokenizer-facts.ts';
import { NO_TURN, type EncodedSequence } from './types.ts';

export function encodeRenderedConversation(
  tokenizer: Pick<TextTokenizer, 'encode'>,
  facts: TokenizerFacts,
  rendered: RenderedConversation,
  roles: readonly Role[],
  appendEos: boolean,
  where: string,
): EncodedSequence {
  const ids = tokenizer.encode(rendered.text, { addSpecialTokens: false });
  const boundary = createBoundaryFinder(tokenizer, rendered.text, ids);
  const turnOf = new Int32Array(ids.length).fill(NO_TURN);
  const trained = new Uint8Array(ids.length);
  const eosInsertions: { position: number; turn: number }[] = [];

  rendered.turns.forEach((span, turn) => {
    turnOf.fill(turn, boundary(span.start).after, boundary(span.end).after);
    if (!span.loss) return;
    const from = boundary(span.loss.start).before;
    const to = boundary(span.loss.end).after;
    trained.fill(1, from, to);
    if (appendEos && roles[turn] === 'assistant' && !ids.slice(from, to).some((id) => facts.eosIds.has(id))) {
      eosInsertions.push({ position: to, turn });
    }
  });

  const eos = eosInsertions.length > 0 ? requireEos(facts, where) : null;
  const leading = leadingIdsFor(facts, ids);
  const length = leading.length + ids.length + eosInsertions.length;
  const sequence = { inputIds: new Int32Array(length), labels: new Int32Array(length).fill(IGNORE_INDEX), turnIndex: new Int32Array(length).fill(NO_TURN) };
  let out = 0;
  const push = (id: number, isTrained: boolean, turn: number): void => {
    sequence.inputIds[out] = id;
    if (isTrained) sequence.labels[out] = id;
    sequence.turnIndex[out] = turn;
    out++;
  };
  for (const id of leading) push(id, false, NO_TURN);
  let next = 0;
  for (let position = 0; position <= ids.length; position++) {
    for (; next < eosInsertions.length && eosInsertions[next]!.position === position; next++) push(eos!, true, eosInsertions[next]!.turn);
    if (position < ids.length) push(ids[position]!, trained[position] === 1, turnOf[position]!);
  }
  sequence.labels[0] = IGNORE_INDEX;
  return sequence;
}

export function requireEos(facts: TokenizerFacts, where: string): number {
  if (facts.eosToAppend === null) {
    throw new TokenizeError('TOKENIZE_NO_EOS', `${where}: the tokenizer has no EOS token to end the answer with; turn "append EOS" off, or use a model whose tokenizer_config.json names an eos_token`);
  }
  return facts.eosToAppend;
}
