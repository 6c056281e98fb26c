import { describe, expect, it } from 'vitest';
import { labelColumnValues, rowsWithErrors, type PreviewRow } from './label-columns.ts';

const rows = (values: Record<string, unknown>[]): PreviewRow[] => values.map((row, index) => ({ row: index + 1, values: row }));

describe('rowsWithErrors', () => {
  it('collects the rows listed under errors, not under warnings', () => {
    const kind = (code: string, severity: 'error' | 'warning', rowNumbers: number[]) => ({ code, severity, count: rowNumbers.length, rows: rowNumbers, lines: [], messages: [], hint: '' });
    const report = {
      fileName: 'f.csv',
      errors: 3,
      warnings: 1,
      rowsWithErrors: 2,
      fileErrors: false,
      kinds: [kind('RAGGED_ROW', 'error', [2, 5]), kind('EMPTY_FIELD', 'error', [5]), kind('STRAY_QUOTE', 'warning', [7])],
    } as unknown as Parameters<typeof rowsWithErrors>[0];
    expect([...rowsWithErrors(report)].sort()).toEqual([2, 5]);
  });
});

describe('labelColumnValues', () => {
  it('gives the distinct values of each column short and few enough to be labels, over every row', () => {
    const all = rows([
      { text: 'Shares rose after the report was published', label: 0, flag: true },
      { text: 'Guidance was cut', label: 2, flag: false },
      { text: 'Shares rose after the report was published', label: 1, flag: true },
    ]);
    expect(labelColumnValues(all, ['text', 'label', 'flag'])).toEqual({ label: ['0', '2', '1'], flag: ['true', 'false'] });
  });

  it('leaves out a column with more than 20 distinct values, or a value too long for a label, or lists', () => {
    const many = rows(Array.from({ length: 21 }, (_, i) => ({ id: i, note: i === 3 ? 'a value far longer than any label' : 'x', tags: ['a'] })));
    expect(labelColumnValues(many, ['id', 'note', 'tags'])).toEqual({});
  });

  it('skips rows with errors, whose cells may be shifted', () => {
    const ragged = rows([{ label: '0' }, { label: 'sharply' }, { label: '2' }]);
    expect(labelColumnValues(ragged, ['label'], new Set([2]))).toEqual({ label: ['0', '2'] });
  });
});
