import { describe, expect, it } from 'vitest';
import { resolveTokenizeOptions, type TokenizeOptions } from './options.ts';
import { commonPrefixLength } from './strings.ts';

describe('tokenization options', () => {
  it('fills in the defaults: answers only, EOS on, no length limit, truncation side by kind', () => {
    expect(resolveTokenizeOptions({ template: { kind: 'chat' } })).toEqual({
      template: { kind: 'chat' },
      trainOnPrompts: false,
      appendEos: true,
      maxLength: null,
      truncationSide: 'auto',
      overlong: 'truncate',
    });
  });

  it.each([
    [{ template: { kind: 'plain', name: 'vicuna' } }, /Unknown template \{"kind":"plain","name":"vicuna"\}; choose .* instruction-response, alpaca, question-answer, user-assistant, bare/],
    [{ template: { kind: 'chat' }, maxLength: 1 }, /maxLength must be a whole number of tokens, at least 2; got 1/],
    [{ template: { kind: 'chat' }, maxLength: 12.5 }, /got 12\.5/],
    [{ template: { kind: 'chat' }, truncationSide: 'middle' }, /truncationSide must be one of auto, left, right; got "middle"/],
    [{ template: { kind: 'chat' }, overlong: 'skip' }, /overlong must be "truncate" or "drop"; got "skip"/],
  ])('refuses %j before any example', (options, message) => {
    expect(() => resolveTokenizeOptions(options as unknown as TokenizeOptions)).toThrow(expect.objectContaining({ code: 'TOKENIZE_BAD_OPTIONS', message: expect.stringMatching(message) }));
  });
});

describe('common prefixes of rendered text', () => {
  it('never ends between the two halves of a surrogate pair', () => {
    expect(commonPrefixLength('ab😀', 'ab😃')).toBe(2);
    expect(commonPrefixLength('ab😀c', 'ab😀d')).toBe(4);
    expect(commonPrefixLength('abc', 'ab')).toBe(2);
  });
});
