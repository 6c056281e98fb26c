import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../example.ts';
import { encodeRenderedConversation } from './encode-rendered.ts';
import type { RenderedConversation } from './rendered.ts';
import { fixtureTokenizer, tokenSpans } from './test-support.ts';
import { tokenizerFacts } from './tokenizer-facts.ts';

describe('a token merged across a boundary', () => {
  const text = 'The robot walked into the garden';
  const cut = text.indexOf('lked'); // inside "walked", where the fixture merges tokens across

  const rendered: RenderedConversation = {
    text,
    turns: [
      { start: 0, end: cut, loss: null },
      { start: cut, end: text.length, loss: { start: cut, end: text.length } },
    ],
  };

  it('carries loss when it holds a character of the answer, and belongs to the earlier turn', async () => {
    const tokenizer = await fixtureTokenizer();
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const spans = tokenSpans(tokenizer, ids);
    const straddling = spans.findIndex((span) => span.start < cut && span.end > cut);
    expect(straddling).toBeGreaterThanOrEqual(0);

    const sequence = encodeRenderedConversation(tokenizer, tokenizerFacts(tokenizer), rendered, ['user', 'assistant'], true, 'test');
    // BOS first, then the text's tokens, then EOS.
    expect(Array.from(sequence.inputIds)).toEqual([1, ...ids, 2]);
    const at = (t: number) => t + 1;
    expect(sequence.labels[at(straddling)]).toBe(ids[straddling]);
    expect(sequence.turnIndex[at(straddling)]).toBe(0);
    // Every token that holds a character of the answer is trained; so is EOS, which belongs to the answer.
    spans.forEach((span, t) => {
      if (span.end > cut) expect(sequence.labels[at(t)]).toBe(ids[t]);
    });
    expect(sequence.labels.at(-1)).toBe(2);
    expect(sequence.turnIndex.at(-1)).toBe(1);
    // Tokens well before the boundary are not.
    spans.forEach((span, t) => {
      if (span.end <= text.indexOf('walked')) expect(sequence.labels[at(t)]).toBe(IGNORE_INDEX);
    });
  });
});
