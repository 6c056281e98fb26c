import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { ProblemLog } from '../validate.ts';
import { readJsonRows } from './json.ts';
import { collectRows, type DataSource } from './types.ts';

async function readJson(source: DataSource, chunkSize?: number) {
  const problems = new ProblemLog('rows.json');
  const { rows, info } = await collectRows(readJsonRows(source, { problems, fileName: 'rows.json', chunkSize }));
  return { rows, info, report: problems.report(), problems };
}

describe('readJsonRows', () => {
  it('reads the 999 Alpaca rows of the JSON array, each with instruction, input and output', async () => {
    const problems = new ProblemLog('alpaca_en_demo.json');
    const { rows, info } = await collectRows(readJsonRows(fixtureFile(FIXTURES.alpaca), { problems, chunkSize: 100_000 }));
    expect(rows).toHaveLength(999);
    expect(info).toMatchObject({ format: 'json', rows: 999, columns: ['instruction', 'input', 'output'] });
    expect(rows[0]).toMatchObject({ row: 1, line: 2, values: { instruction: 'Describe a process of making crepes.', input: '' } });
    expect(rows.every((row) => typeof row.values.output === 'string')).toBe(true);
    expect(problems.report().kinds).toEqual([]);
  });

  it('gives the same rows whatever the chunk size (strings, escapes and brackets across boundaries)', async () => {
    const data = [
      { text: 'has "quotes", [brackets] and {braces}', n: 1 },
      { text: 'escaped \\" backslash \\\\', nested: { list: [1, [2, { x: '}' }]] } },
      { text: 'unicode é 𝄞 \u2028', n: null },
    ];
    const text = JSON.stringify(data, null, 2);
    const expected = (await readJson(text, 1 << 20)).rows;
    expect(expected.map((row) => row.values)).toEqual(data);
    for (const chunkSize of [1, 2, 3, 17]) expect((await readJson(text, chunkSize)).rows).toEqual(expected);
  });

  it('reads an object of rows keyed by id, putting each key in an "id" field', async () => {
    const text = '{\n  "q1": {"question": "2+2?"},\n  "q2": {"id": "own", "question": "3+3?"}\n}';
    const { rows, info } = await readJson(text);
    expect(rows).toEqual([
      { row: 1, line: 2, values: { id: 'q1', question: '2+2?' } },
      { row: 2, line: 3, values: { id: 'own', question: '3+3?' } },
    ]);
    expect(info.columns).toEqual(['id', 'question']);
  });

  it('reports a row that is not valid JSON with its line and row number, and reads the rows after it', async () => {
    const text = '[\n{"a": 1},\n{"a": 2,},\n{"a": [1, 2}\n, {"a": 4}\n]';
    const { rows, report } = await readJson(text);
    expect(rows.map((row) => row.values.a)).toEqual([1, 4]);
    expect(report.kinds[0]).toMatchObject({ code: 'BAD_JSON', count: 2, rows: [2, 3], lines: [3, 4] });
    expect(report.kinds[0]?.messages[0]).toMatch(/^rows\.json, line 3 \(row 2\): not valid JSON/);
  });

  it('reports rows that are not objects', async () => {
    const { rows, report } = await readJson('[{"a":1}, 5, "x", [1], true]');
    expect(rows).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'NOT_AN_OBJECT', count: 4, rows: [2, 3, 4, 5] });
  });

  it('reads a row that follows another without a comma, and reports it', async () => {
    const { rows, report } = await readJson('[{"a":1}\n{"a":2}]');
    expect(rows).toHaveLength(2);
    expect(report.kinds[0]).toMatchObject({ code: 'BAD_JSON', rows: [2], lines: [2] });
    expect(report.kinds[0]?.messages[0]).toContain('no comma between this row and the one before it');
  });

  it('keeps the rows of a truncated file, reports the cut-off row and the missing bracket', async () => {
    const { rows, report } = await readJson('[\n{"a": 1},\n{"a": 2},\n{"a": "thr');
    expect(rows.map((row) => row.values.a)).toEqual([1, 2]);
    expect(report.kinds.map((kind) => [kind.code, kind.severity, kind.rows, kind.lines])).toEqual([
      ['BAD_JSON', 'error', [3], [4]],
      ['TRUNCATED_FILE', 'warning', [], [4]],
    ]);
    expect(report.fileErrors).toBe(false);
  });

  it('reports a missing closing bracket after complete rows as a truncated file, not a bad row', async () => {
    const { rows, report } = await readJson('[{"a": 1}, {"a": 2}');
    expect(rows).toHaveLength(2);
    expect(report.kinds.map((kind) => kind.code)).toEqual(['TRUNCATED_FILE']);
  });

  it('reports content after the closing bracket as an error about the whole file', async () => {
    const { rows, report } = await readJson('[{"a": 1}]\n[{"a": 2}]');
    expect(rows).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'TRAILING_CONTENT', lines: [2] });
    expect(report.fileErrors).toBe(true);
  });

  it('refuses a file that is neither an array nor an object, and suggests JSON Lines where it fits', async () => {
    await expect(readJson('"just a string"')).rejects.toMatchObject({ code: 'DATA_UNREADABLE', message: expect.stringContaining('rows.json, line 1') });
    await expect(readJson('   ')).rejects.toMatchObject({ code: 'DATA_UNREADABLE', message: expect.stringContaining('is empty') });
  });

  it('stops reading an object of rows at a broken key, keeping the rows before it', async () => {
    const { rows, report } = await readJson('{"a": {"x": 1}, b: {"x": 2}}');
    expect(rows).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'BAD_JSON', rows: [] });
    expect(report.fileErrors).toBe(true);
  });

  it('accepts an empty array', async () => {
    const { rows, report } = await readJson('[ ]');
    expect(rows).toEqual([]);
    expect(report.kinds).toEqual([]);
  });
});
