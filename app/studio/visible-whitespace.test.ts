import { describe, expect, it } from 'vitest';
import { describeBlank, visibleWhitespace } from './visible-whitespace.ts';

const shown = (text: string) => visibleWhitespace(text).map((piece) => piece.mark ?? piece.text).join('');

describe('visible whitespace', () => {
  it('marks every line break of a completion made of newlines, so it is not an empty box', () => {
    const pieces = visibleWhitespace('\n'.repeat(8));
    expect(pieces).toHaveLength(8);
    expect(pieces.every((piece) => piece.mark === '↵' && piece.text === '\n')).toBe(true);
    expect(describeBlank('\n'.repeat(8))).toBe('8 line breaks');
  });

  it('keeps the text itself, so copying it copies what the model wrote', () => {
    const text = 'positive \n\tnext  line  \r\n';
    expect(visibleWhitespace(text).map((piece) => piece.text).join('')).toBe(text);
  });

  it('marks only the spaces a reader cannot see: at a line end, tabs, or a text of whitespace only', () => {
    expect(shown('a b  c')).toBe('a b  c');
    expect(shown('a b \nc')).toBe('a b·↵c');
    expect(shown('a\tb')).toBe('a→b');
    expect(shown('   ')).toBe('···');
    expect(describeBlank('  \n ')).toBe('1 line break and 3 spaces');
    expect(describeBlank(' a ')).toBeUndefined();
    expect(describeBlank('')).toBeUndefined();
  });
});
