import { describe, expect, it } from 'vitest';
import { Random } from '../../util/random.ts';
import { DelimitedParser, type DelimitedDialect, type ParsedRecord } from './delimited-parser.ts';

function parse(text: string, dialect: Partial<DelimitedDialect> = {}, chunkSize = text.length || 1): ParsedRecord[] {
  const parser = new DelimitedParser({ delimiter: ',', quote: '"', ...dialect });
  const records: ParsedRecord[] = [];
  for (let i = 0; i < text.length; i += chunkSize) records.push(...parser.push(text.slice(i, i + chunkSize)));
  records.push(...parser.end());
  return records;
}

const fields = (records: ParsedRecord[]) => records.map((record) => record.fields);

describe('DelimitedParser', () => {
  it('reads quoted fields holding delimiters, line breaks and doubled quotes, in any chunking', () => {
    const text = 'text,label\r\n"a, b",1\r\n"line one\nline two",2\r\n"she said ""hi""",3\r\n"",4\r\n';
    const expected = [
      ['text', 'label'],
      ['a, b', '1'],
      ['line one\nline two', '2'],
      ['she said "hi"', '3'],
      ['', '4'],
    ];
    for (const size of [1, 2, 3, 5, 1000]) {
      const records = parse(text, {}, size);
      expect(fields(records)).toEqual(expected);
      expect(records.map((record) => record.line)).toEqual([1, 2, 3, 5, 6]);
      expect(records.every((record) => !record.strayQuote && !record.blank)).toBe(true);
    }
  });

  it('ends records at LF, CRLF and lone CR, and reads a last record without a line break', () => {
    expect(fields(parse('a,b\nc,d\r\ne,f\rg,h'))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e', 'f'],
      ['g', 'h'],
    ]);
  });

  it('marks blank lines (even with spaces) as blank, and keeps empty fields', () => {
    const records = parse('a,b\n\n  \n,\n');
    expect(records.map((record) => [record.blank, record.fields])).toEqual([
      [false, ['a', 'b']],
      [true, ['']],
      [true, ['  ']],
      [false, ['', '']],
    ]);
  });

  it('keeps a stray quote as a character and flags the record, like Python csv', () => {
    const records = parse('say "hi" now,1\n"closed"tail,2\nfine,3');
    expect(fields(records)).toEqual([
      ['say "hi" now', '1'],
      ['closedtail', '2'],
      ['fine', '3'],
    ]);
    expect(records.map((record) => record.strayQuote)).toEqual([true, true, false]);
  });

  it('reports an unclosed quote with the line where it opened and the last line', () => {
    const records = parse('a,b\n1,"never closed\nx,y\nz,w\n');
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ line: 2, unclosedQuoteLine: 2, endLine: 5, fields: ['1', 'never closed\nx,y\nz,w\n'] });
  });

  it('splits on a one-character custom separator such as FPB\'s "@", with quotes off', () => {
    const records = parse('It is "up" , 5 % .@positive\r\nFlat .@neutral\r\n', { delimiter: '@', quote: null });
    expect(fields(records)).toEqual([
      ['It is "up" , 5 % .', 'positive'],
      ['Flat .', 'neutral'],
    ]);
    expect(records.some((record) => record.strayQuote)).toBe(false);
  });

  it('splits on tabs, pipes and regex-special characters', () => {
    expect(fields(parse('a\tb\n', { delimiter: '\t' }))).toEqual([['a', 'b']]);
    expect(fields(parse('a|b\n', { delimiter: '|' }))).toEqual([['a', 'b']]);
    expect(fields(parse('a]b^c\n', { delimiter: ']' }))).toEqual([['a', 'b^c']]);
    expect(fields(parse('a^b\n', { delimiter: '^' }))).toEqual([['a', 'b']]);
  });

  it('refuses a delimiter that is not one character, or equals the quote', () => {
    expect(() => new DelimitedParser({ delimiter: '::', quote: '"' })).toThrow(/one character/);
    expect(() => new DelimitedParser({ delimiter: '\n', quote: '"' })).toThrow(/one character/);
    expect(() => new DelimitedParser({ delimiter: '"', quote: '"' })).toThrow(/quote/);
  });

  it('reads back any table written RFC 4180 style, whatever the chunk size (seeded random tables)', () => {
    const random = Random.fromSeed(2024);
    const alphabet = ['a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '𝄞', ';'];
    for (let trial = 0; trial < 200; trial++) {
      const width = 1 + random.int(4);
      const table = Array.from({ length: 1 + random.int(6) }, () =>
        Array.from({ length: width }, () => Array.from({ length: random.int(6) }, () => alphabet[random.int(alphabet.length)]!).join('')),
      );
      // Quote every field so that empty one-column rows are not blank lines.
      const text = table.map((row) => row.map((field) => `"${field.replace(/"/g, '""')}"`).join(',')).join(random.int(2) ? '\r\n' : '\n');
      const records = parse(text, {}, 1 + random.int(7));
      expect(fields(records)).toEqual(table);
    }
  });
});

