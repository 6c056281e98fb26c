import { describe, expect, it } from 'vitest';
import { ProblemLog } from '../validate.ts';
import { readTextRows, type TextSplitting } from './text.ts';
import { collectRows } from './types.ts';

async function readText(text: string, splitting?: TextSplitting, chunkSize?: number) {
  const problems = new ProblemLog('notes.txt');
  const { rows, info } = await collectRows(readTextRows(text, { problems, fileName: 'notes.txt', splitting, chunkSize }));
  return { rows, info, report: problems.report() };
}

describe('readTextRows', () => {
  it('makes one row per line, skipping blank lines with a warning', async () => {
    const { rows, info, report } = await readText('first\r\n\r\nsecond\nthird');
    expect(rows).toEqual([
      { row: 1, line: 1, values: { text: 'first' } },
      { row: 2, line: 3, values: { text: 'second' } },
      { row: 3, line: 4, values: { text: 'third' } },
    ]);
    expect(info).toMatchObject({ format: 'text', columns: ['text'], rows: 3 });
    expect(report.kinds[0]).toMatchObject({ code: 'BLANK_LINE', lines: [2] });
  });

  it('makes one row per blank-line-separated block, joining its lines with "\\n"', async () => {
    for (const chunkSize of [1, 3, 100]) {
      const { rows, report } = await readText('\r\nDear team,\r\nSales rose.\r\n\r\n\r\nQ2 was flat.\r\n  \r\nEnd', 'paragraphs', chunkSize);
      expect(rows).toEqual([
        { row: 1, line: 2, values: { text: 'Dear team,\nSales rose.' } },
        { row: 2, line: 6, values: { text: 'Q2 was flat.' } },
        { row: 3, line: 8, values: { text: 'End' } },
      ]);
      expect(report.kinds).toEqual([]);
    }
  });
});
