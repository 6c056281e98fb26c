import { describe, expect, it } from 'vitest';
import { detectDelimiter, detectHeader } from './delimited-sniff.ts';

describe('detectDelimiter', () => {
  it('picks the separator that splits records most consistently, quotes included', () => {
    expect(detectDelimiter('text,label\n"a; b, c",1\n"d; e",2\n', '"', true)).toMatchObject({ delimiter: ',', fieldCount: 2, consistency: 1 });
    expect(detectDelimiter('a;b;c\n1,5;2;3\n4;5,5;6\n', '"', true)).toMatchObject({ delimiter: ';', fieldCount: 3 });
    expect(detectDelimiter('text\tlabel\nx, y, z\t1\nw\t0\n', '"', true)).toMatchObject({ delimiter: '\t', fieldCount: 2 });
    expect(detectDelimiter('a|b\nc|d\n', '"', true)).toMatchObject({ delimiter: '|' });
  });

  it('prefers the given delimiter on a tie (tab for a .tsv file)', () => {
    expect(detectDelimiter('a\tb,c\nd\te,f\n', '"', true, '\t').delimiter).toBe('\t');
    expect(detectDelimiter('a\tb,c\nd\te,f\n', '"', true, ',').delimiter).toBe(',');
  });

  it('falls back to one column when nothing splits the records', () => {
    expect(detectDelimiter('just text\nmore text\n', '"', true)).toMatchObject({ delimiter: ',', fieldCount: 1 });
  });

  it('leaves out a last record the sample may have cut short', () => {
    expect(detectDelimiter('a,b\nc,d\ne', '"', false)).toMatchObject({ fieldCount: 2, consistency: 1 });
  });
});

describe('detectHeader', () => {
  it('sees a header over numeric labels and sentence-like text (Twitter)', () => {
    expect(detectHeader([['text', 'label'], ['$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/x', '0'], ['Stocks fall as yields rise', '2']])).toBe(true);
  });

  it('sees no header when the first record looks like the data (FPB)', () => {
    expect(
      detectHeader([
        ['According to Gran , the company has no plans to move all production to Russia .', 'neutral'],
        ['Technopolis plans to develop in stages an area of no less than 100,000 square meters .', 'neutral'],
        ['The international electronic industry company Elcoteq has laid off tens of employees .', 'negative'],
      ]),
    ).toBe(false);
  });

  it('sees a header over numbers, and none over numbers that continue the column', () => {
    expect(detectHeader([['x', 'y'], ['1', '2'], ['3', '4']])).toBe(true);
    expect(detectHeader([['5', '6'], ['1', '2'], ['3', '4']])).toBe(false);
  });

  it('sees no header when names repeat, and judges a lone record by whether it looks like names', () => {
    expect(detectHeader([['a', 'a'], ['1', '2']])).toBe(false);
    expect(detectHeader([['question', 'answer']])).toBe(true);
    expect(detectHeader([['What is two plus two, in words?', 'four']])).toBe(false);
  });
});
