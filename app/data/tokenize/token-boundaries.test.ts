import { describe, expect, it } from 'vitest';
import { createBoundaryFinder } from './token-boundaries.ts';
import { fixtureTokenizer, tokenSpans } from './test-support.ts';

describe('character offsets to token positions', () => {
  const text = 'The robot walked into the garden and saw 48+24 stars tonight';

  it('puts every token before `before` wholly before the offset and every token from `after` wholly after it, at every offset', async () => {
    const tokenizer = await fixtureTokenizer();
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const spans = tokenSpans(tokenizer, ids);
    expect(spans.at(-1)!.end).toBe(text.length);
    const boundaryAt = createBoundaryFinder(tokenizer, text, ids);
    let straddled = 0;
    for (let offset = 1; offset < text.length; offset++) {
      const { before, after } = boundaryAt(offset);
      expect(before).toBeLessThanOrEqual(after);
      if (before > 0) expect(spans[before - 1]!.end).toBeLessThanOrEqual(offset);
      if (after < ids.length) expect(Math.max(0, spans[after]!.start)).toBeGreaterThanOrEqual(offset);
      if (before === after && before > 0 && before < ids.length) expect(spans[before]!.start).toBe(offset);
      if (before < after) {
        straddled++;
        // The token merged across the offset, and at most a little slack on either side of it.
        expect(after - before).toBeLessThanOrEqual(3);
      }
    }
    // Offsets inside a merged token are the only ones that straddle, and a sentence has many.
    expect(straddled).toBeGreaterThan(10);
  });

  it('is exact at the edges of the text', async () => {
    const tokenizer = await fixtureTokenizer();
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const boundaryAt = createBoundaryFinder(tokenizer, text, ids);
    expect(boundaryAt(0)).toEqual({ before: 0, after: 0 });
    expect(boundaryAt(text.length)).toEqual({ before: ids.length, after: ids.length });
  });

  it('finds a boundary next to a special token exactly', async () => {
    const tokenizer = await fixtureTokenizer();
    const withEos = 'Four.</s> Next';
    const ids = tokenizer.encode(withEos, { addSpecialTokens: false });
    const end = withEos.indexOf('</s>') + '</s>'.length;
    const { before, after } = createBoundaryFinder(tokenizer, withEos, ids)(end);
    expect(before).toBe(after);
    expect(ids[before - 1]).toBe(2);
  });
});
