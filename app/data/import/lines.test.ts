import { describe, expect, it } from 'vitest';
import { LineSplitter, type TextLine } from './lines.ts';

function split(chunks: string[]): TextLine[] {
  const splitter = new LineSplitter();
  return [...chunks.flatMap((chunk) => splitter.push(chunk)), ...splitter.end()];
}

describe('LineSplitter', () => {
  it('ends lines at LF, CRLF and a lone CR, numbering them from 1', () => {
    expect(split(['a\nb\r\nc\rd'])).toEqual([
      { text: 'a', line: 1 },
      { text: 'b', line: 2 },
      { text: 'c', line: 3 },
      { text: 'd', line: 4 },
    ]);
  });

  it('treats a CRLF split between two chunks as one line break', () => {
    expect(split(['a\r', '\nb\r', '', '\n'])).toEqual([
      { text: 'a', line: 1 },
      { text: 'b', line: 2 },
    ]);
  });

  it('joins a line that spans several chunks, and keeps empty lines', () => {
    expect(split(['ab', 'c', '\n\nd'])).toEqual([
      { text: 'abc', line: 1 },
      { text: '', line: 2 },
      { text: 'd', line: 3 },
    ]);
  });
});
