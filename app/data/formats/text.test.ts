import { describe, expect, it } from 'vitest';
import { importFile } from '../import/import-file.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';

describe('text format', () => {
  it('turns each row of a text file into a fully trained text example', async () => {
    const imported = await importFile(new File(['First report.\n\nSecond report.\n'], 'reports.txt'));
    const { examples, report } = mapForTest(imported.rows, { format: 'text' }, imported.info.columns);
    expect(report.kinds).toEqual([]);
    expect(examples).toEqual([
      { kind: 'text', source: { row: 1, line: 1 }, text: 'First report.' },
      { kind: 'text', source: { row: 2, line: 3 }, text: 'Second report.' },
    ]);
  });

  it('reads another column when mapped, and reports empty text', () => {
    const { examples, report } = mapForTest(rowsOf({ body: 'x' }, { body: ' ' }), { format: 'text', text: 'body' });
    expect(examples).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'EMPTY_FIELD', rows: [2] });
  });
});
