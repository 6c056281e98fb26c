import { describe, expect, it } from 'vitest';
import { deduplicate, deduplicateSplits, exampleContentKey, normalizeForDuplicates } from './dedupe.ts';
import type { ConversationExample, Example, TextExample } from './example.ts';
import { mapRows } from './formats/mapping.ts';
import { importFile } from './import/import-file.ts';
import { FIXTURES, fixtureFile } from './test-support/fixtures.ts';
import { ProblemLog } from './validate.ts';

const text = (row: number, value: string): TextExample => ({ kind: 'text', source: { row }, text: value });
const labelled = (row: number, sentence: string, label: string): ConversationExample => ({
  kind: 'conversation',
  source: { row },
  turns: [
    { role: 'user', content: sentence, train: false },
    { role: 'assistant', content: label, train: true },
  ],
  expected: { kind: 'label', label, word: label },
});

describe('deduplicate', () => {
  it('removes exact duplicates after normalizing Unicode and whitespace, keeping the first, and lists them', () => {
    const examples = [text(1, 'Sales rose .'), text(2, 'Sales  rose .\n'), text(3, 'Sales fell .'), text(4, 'Cafe\u0301'), text(5, 'Café')];
    const { kept, report } = deduplicate(examples);
    expect(kept.map((e) => e.source.row)).toEqual([1, 3, 4]);
    expect(report).toEqual({
      removed: 2,
      removedRows: [
        { row: 2, sameAs: 1 },
        { row: 5, sameAs: 4 },
      ],
      conflicting: 0,
      conflictingRows: [],
    });
  });

  it('keeps case, and keeps the same sentence with another label but counts it as a conflict', () => {
    const { kept, report } = deduplicate([labelled(1, 'Profit up', 'positive'), labelled(2, 'profit up', 'positive'), labelled(3, 'Profit up', 'neutral'), labelled(4, 'Profit up', 'positive')]);
    expect(kept.map((e) => e.source.row)).toEqual([1, 2, 3]);
    expect(report).toMatchObject({ removed: 1, conflicting: 1, conflictingRows: [{ row: 3, sameAs: 1 }] });
  });

  it('compares token examples by their ids and labels', () => {
    const tokens = (row: number, labels: number[]): Example => ({ kind: 'tokens', source: { row }, inputIds: Int32Array.from([1, 2]), labels: Int32Array.from(labels) });
    expect(deduplicate([tokens(1, [1, 2]), tokens(2, [1, 2]), tokens(3, [-100, 2])]).kept).toHaveLength(2);
  });

  it('finds the 6 Twitter training tweets that repeat once whitespace is normalized, and caps the listed rows', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.twitterTrain));
    const { examples } = mapRows(rows, { format: 'classification' }, { log: new ProblemLog('tw'), columns: info.columns });
    const once = deduplicate(examples);
    expect(once.report).toMatchObject({ removed: 6, conflicting: 0 });
    const repeated = once.report.removedRows[0]!;
    expect(normalizeForDuplicates(String(rows[repeated.row - 1]?.values.text))).toBe(normalizeForDuplicates(String(rows[repeated.sameAs - 1]?.values.text)));
    const doubled = deduplicate([...examples, ...examples], { maxListed: 5 });
    expect(doubled.kept).toHaveLength(9543 - 6);
    expect(doubled.report.removed).toBe(9543 + 6);
    expect(doubled.report.removedRows).toHaveLength(5);
  });

  it('normalizes only what does not change meaning', () => {
    expect(normalizeForDuplicates('  a\t\tb \r\n c ')).toBe('a b c');
    expect(exampleContentKey(text(1, 'A'))).not.toBe(exampleContentKey(text(1, 'a')));
  });
});

describe('deduplicateSplits', () => {
  it('removes duplicates within splits, and from train what validation or test hold, leaving test whole', () => {
    const splits = {
      train: [text(1, 'a'), text(2, 'b'), text(3, 'b'), text(4, 'c'), text(5, 'd')],
      validation: [text(1, 'c'), text(2, 'e')],
      test: [text(1, 'd'), text(2, 'e'), text(3, 'd')],
    };
    const { splits: clean, report } = deduplicateSplits(splits);
    expect(clean.train.map((e) => e.text)).toEqual(['a', 'b']);
    expect(clean.validation.map((e) => e.text)).toEqual(['c']);
    expect(clean.test.map((e) => e.text)).toEqual(['d', 'e']);
    expect(report.within.train.removed).toBe(1);
    expect(report.within.test.removed).toBe(1);
    expect(report.overlap).toEqual([
      { from: 'train', removed: 2, removedRows: [4, 5] },
      { from: 'validation', removed: 1, removedRows: [2] },
    ]);
  });
});
