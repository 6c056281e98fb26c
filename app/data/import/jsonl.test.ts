import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { ProblemLog } from '../validate.ts';
import { readJsonlRows } from './jsonl.ts';
import { collectRows, type DataSource, type ImportProgress } from './types.ts';

async function readJsonl(source: DataSource, chunkSize?: number) {
  const problems = new ProblemLog('rows.jsonl');
  const { rows, info } = await collectRows(readJsonlRows(source, { problems, fileName: 'rows.jsonl', chunkSize }));
  return { rows, info, report: problems.report(), problems };
}

describe('readJsonlRows', () => {
  it('reads the 7,473 GSM8K training rows, each with a question and an answer', async () => {
    const progress: ImportProgress[] = [];
    const problems = new ProblemLog('train.jsonl');
    const file = fixtureFile(FIXTURES.gsm8kTrain);
    const { rows, info } = await collectRows(readJsonlRows(file, { problems, chunkSize: 256 * 1024, onProgress: (p) => progress.push(p) }));
    expect(rows).toHaveLength(7473);
    expect(info).toMatchObject({ fileName: 'train.jsonl', format: 'jsonl', rows: 7473, columns: ['question', 'answer'], encoding: 'utf-8', bom: false });
    expect(rows[0]).toMatchObject({ row: 1, line: 1 });
    expect(rows[0]?.values.answer).toMatch(/#### 72$/);
    expect(rows.at(-1)).toMatchObject({ row: 7473, line: 7473 });
    expect(problems.report().kinds).toEqual([]);
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.at(-1)).toEqual({ bytesRead: file.size, totalBytes: file.size });
  });

  it('reports bad JSON on line 7 with its line number and the parser message, and reads on', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ question: `q${i + 1}`, answer: `a${i + 1}` }));
    lines[6] = '{"question": "q7", "answer": "a7"';
    const { rows, report } = await readJsonl(lines.join('\n'));
    expect(rows.map((row) => row.row)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
    expect(report.kinds).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'BAD_JSON', severity: 'error', count: 1, rows: [7], lines: [7] });
    expect(report.kinds[0]?.messages[0]).toMatch(/^rows\.jsonl, line 7 \(row 7\): not valid JSON \(.+\): \{"question": "q7"/);
  });

  it('skips blank lines, says so, and keeps line numbers true to the file', async () => {
    const { rows, report } = await readJsonl('{"a":1}\n\n   \n{"a":2}\n');
    expect(rows).toEqual([
      { row: 1, line: 1, values: { a: 1 } },
      { row: 2, line: 4, values: { a: 2 } },
    ]);
    expect(report.kinds[0]).toMatchObject({ code: 'BLANK_LINE', severity: 'warning', count: 2, lines: [2, 3] });
    expect(report.errors).toBe(0);
  });

  it('reports a line that holds JSON but not an object', async () => {
    const { rows, report } = await readJsonl('{"a":1}\n[1,2]\n"text"\nnull\n');
    expect(rows).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'NOT_AN_OBJECT', count: 3, rows: [2, 3, 4] });
    expect(report.kinds[0]?.messages).toEqual([
      'rows.jsonl, line 2 (row 2): expected a JSON object of fields, found an array',
      'rows.jsonl, line 3 (row 3): expected a JSON object of fields, found a string ("text")',
      'rows.jsonl, line 4 (row 4): expected a JSON object of fields, found null',
    ]);
  });

  it('reads CRLF line ends, a BOM, and a last line without a line break, in any chunking', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"t":"é"}\r\n{"t":"b"}\r\n{"t":"c"}')]);
    for (const chunkSize of [1, 2, 7, 1000]) {
      const { rows, info } = await readJsonl(bytes, chunkSize);
      expect(rows.map((row) => [row.line, row.values.t])).toEqual([
        [1, 'é'],
        [2, 'b'],
        [3, 'c'],
      ]);
      expect(info.bom).toBe(true);
    }
  });

  it('collects columns from every row in order of first appearance', async () => {
    const { info } = await readJsonl('{"a":1}\n{"b":2,"a":3}\n{"c":4}');
    expect(info.columns).toEqual(['a', 'b', 'c']);
  });

  it('stops with DATA_CANCELLED when cancelled, keeping the rows already read', async () => {
    const controller = new AbortController();
    const problems = new ProblemLog('big.jsonl');
    const text = Array.from({ length: 1000 }, (_, i) => `{"i":${i}}`).join('\n');
    const seen: number[] = [];
    const reading = (async () => {
      for await (const row of readJsonlRows(text, { problems, fileName: 'big.jsonl', chunkSize: 64, signal: controller.signal })) {
        seen.push(row.row);
        if (row.row === 20) controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ code: 'DATA_CANCELLED' });
    expect(seen.length).toBeGreaterThanOrEqual(20);
    expect(seen.length).toBeLessThan(1000);
  });
});
