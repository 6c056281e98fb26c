import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { ProblemLog } from '../validate.ts';
import { readCsvRows, type CsvImportOptions } from './csv.ts';
import { collectRows, type DataSource } from './types.ts';

async function readCsv(source: DataSource, options: Partial<CsvImportOptions> = {}) {
  const fileName = options.fileName ?? 'table.csv';
  const problems = new ProblemLog(fileName);
  const { rows, info } = await collectRows(readCsvRows(source, { fileName, ...options, problems }));
  return { rows, info, report: problems.report() };
}

describe('readCsvRows on the real files', () => {
  it('reads the 9,543 Twitter training rows: comma detected, header detected, URLs and quoted multi-line tweets intact', async () => {
    const { rows, info, report } = await readCsv(fixtureFile(FIXTURES.twitterTrain), { fileName: 'sent_train.csv', chunkSize: 50_000 });
    expect(rows).toHaveLength(9543);
    expect(info).toMatchObject({ delimiter: ',', delimiterDetected: true, header: true, headerDetected: true, columns: ['text', 'label'], rows: 9543 });
    expect(report.kinds).toEqual([]);
    expect(rows[0]?.values).toEqual({ text: '$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT', label: '0' });
    expect(rows.filter((row) => String(row.values.text).includes('\n')).length).toBe(184);
    expect(rows.find((row) => String(row.values.text).startsWith('CITRON SAYS'))?.values.text).toBe("CITRON SAYS IT'S LONG ON LUCKIN COFFEE\n\nMW vs CItron");
    expect(rows.find((row) => String(row.values.text).includes('"significant value"'))?.values.label).toBe('1');
    const counts = new Map<unknown, number>();
    for (const row of rows) counts.set(row.values.label, (counts.get(row.values.label) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ '0': 1442, '1': 1923, '2': 6178 });
    // Line numbers count the line breaks inside quoted tweets: the last row starts past line 9,544.
    expect(rows.at(-1)?.line).toBeGreaterThan(9544);
  });

  it('reads the Twitter validation file: 2,388 rows', async () => {
    const { rows, report } = await readCsv(fixtureFile(FIXTURES.twitterValid));
    expect(rows).toHaveLength(2388);
    expect(report.kinds).toEqual([]);
  });

  it('reads FPB with the "@" separator given: no header detected, CRLF, 4,846 rows labelled negative/neutral/positive', async () => {
    const { rows, info, report } = await readCsv(fixtureFile(FIXTURES.fpb), {
      fileName: 'Sentences_50Agree.txt',
      delimiter: '@',
      columnNames: ['sentence', 'label'],
    });
    expect(rows).toHaveLength(4846);
    expect(info).toMatchObject({ delimiter: '@', delimiterDetected: false, header: false, headerDetected: true, columns: ['sentence', 'label'], encoding: 'utf-8' });
    expect(report.kinds).toEqual([]);
    expect(new Set(rows.map((row) => row.values.label))).toEqual(new Set(['negative', 'neutral', 'positive']));
    expect(rows[0]).toEqual({
      row: 1,
      line: 1,
      values: { sentence: 'According to Gran , the company has no plans to move all production to Russia , although that is where the company is growing .', label: 'neutral' },
    });
    expect(rows.every((row) => !String(row.values.label).includes('\r'))).toBe(true);
  });

  it('names FPB\'s columns column_1 and column_2 when no names are given', async () => {
    const { info } = await readCsv(fixtureFile(FIXTURES.fpb), { delimiter: '@' });
    expect(info.columns).toEqual(['column_1', 'column_2']);
  });
});

describe('readCsvRows edge cases', () => {
  it('strips a BOM so the first column is not named "\\uFEFFtext"', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('text,label\nhello,1\n')]);
    const { rows, info } = await readCsv(bytes);
    expect(info).toMatchObject({ columns: ['text', 'label'], bom: true });
    expect(rows[0]?.values).toEqual({ text: 'hello', label: '1' });
  });

  it('reads quoted fields with the delimiter, CRLF and doubled quotes inside, across one-byte chunks', async () => {
    const text = 'text,label\r\n"a, b",1\r\n"two\r\nlines",2\r\n"say ""x""",3\r\n';
    const { rows, report } = await readCsv(text, { chunkSize: 1 });
    expect(rows.map((row) => [row.line, row.values.text])).toEqual([
      [2, 'a, b'],
      [3, 'two\r\nlines'],
      [5, 'say "x"'],
    ]);
    expect(report.kinds).toEqual([]);
  });

  it('skips blank lines and says where they were', async () => {
    const { rows, report } = await readCsv('text,label\n\nx,1\n\r\ny,2\n\n');
    expect(rows.map((row) => [row.row, row.line])).toEqual([
      [1, 3],
      [2, 5],
    ]);
    expect(report.kinds[0]).toMatchObject({ code: 'BLANK_LINE', severity: 'warning', count: 3, lines: [2, 4, 6] });
  });

  it('reports an unclosed quote at the line where it opened, and how much it swallowed', async () => {
    const { rows, report } = await readCsv('text,label\nok,1\n"never closed,2\nmore,3\nlast,4\n');
    expect(rows.map((row) => row.values.text)).toEqual(['ok']);
    expect(report.kinds[0]).toMatchObject({ code: 'UNCLOSED_QUOTE', severity: 'error', rows: [2], lines: [3] });
    expect(report.kinds[0]?.messages[0]).toBe(
      'table.csv, line 3 (row 2): a quoted field opens on line 3 and never closes, so the 3 line(s) after it were read as one field and this row was not imported',
    );
  });

  it('reports ragged rows with how many fields they have, and still hands them over', async () => {
    const { rows, report } = await readCsv('text,label\na,1\nb\nc,2,extra\nd,3\n');
    expect(rows).toHaveLength(4);
    expect(rows[1]?.values).toEqual({ text: 'b' });
    expect(report.kinds[0]).toMatchObject({ code: 'RAGGED_ROW', count: 2, rows: [2, 3], lines: [3, 4] });
    expect(report.kinds[0]?.messages[1]).toBe('table.csv, line 4 (row 3): 3 field(s) where the header has 2 (delimiter ",")');
  });

  it('warns about stray quotes but keeps the row', async () => {
    const { rows, report } = await readCsv('text,label\nhe said "no" twice,1\n');
    expect(rows[0]?.values.text).toBe('he said "no" twice');
    expect(report.kinds[0]).toMatchObject({ code: 'STRAY_QUOTE', severity: 'warning', rows: [1] });
  });

  it('treats quotes as ordinary characters when quoting is off', async () => {
    const { rows, report } = await readCsv('text\tlabel\n"quoted" start\t1\n', { quote: null, delimiter: '\t' });
    expect(rows[0]?.values).toEqual({ text: '"quoted" start', label: '1' });
    expect(report.kinds).toEqual([]);
  });

  it('detects tab for a .tsv file, and semicolon or pipe from the content', async () => {
    expect((await readCsv('a\tb\n1\t2\n', { fileName: 'x.tsv' })).info.delimiter).toBe('\t');
    expect((await readCsv('a;b\n1,5;2\n')).info.delimiter).toBe(';');
    expect((await readCsv('a|b\n1|2\n')).info.delimiter).toBe('|');
  });

  it('follows the header override both ways', async () => {
    const withHeader = await readCsv('text,label\nx,1\n', { header: false });
    expect(withHeader.rows.map((row) => row.values)).toEqual([
      { column_1: 'text', column_2: 'label' },
      { column_1: 'x', column_2: '1' },
    ]);
    const forced = await readCsv('5,6\n1,2\n', { header: true });
    expect(forced.info).toMatchObject({ header: true, headerDetected: false, columns: ['5', '6'] });
    expect(forced.rows).toHaveLength(1);
  });

  it('renames repeated and empty header names, and says so', async () => {
    const { info, report } = await readCsv('text,text,\na,b,c\n', { header: true });
    expect(info.columns).toEqual(['text', 'text_2', 'column_3']);
    expect(report.kinds[0]).toMatchObject({ code: 'DUPLICATE_COLUMN', severity: 'warning', count: 1 });
  });

  it('falls back to windows-1252 for a latin-1 export and reports it', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('text,label\n'), 0x4c, 0x75, 0x6c, 0x65, 0xe5, 0x2c, 0x31, 0x0a]);
    const { rows, info, report } = await readCsv(bytes);
    expect(rows[0]?.values.text).toBe('Luleå');
    expect(info.encoding).toBe('windows-1252');
    expect(report.kinds[0]).toMatchObject({ code: 'ENCODING_FALLBACK', lines: [2] });
  });

  it('refuses a delimiter of more than one character', async () => {
    await expect(readCsv('a::b\n', { delimiter: '::' })).rejects.toMatchObject({ code: 'DATA_BAD_MAPPING' });
  });

  it('samples only the head of a long file to guess the dialect, then reads it all', async () => {
    const text = 'text,label\n' + Array.from({ length: 5000 }, (_, i) => `"row ${i}, with a comma",${i % 3}`).join('\n');
    const { rows, info } = await readCsv(text, { chunkSize: 4096 });
    expect(rows).toHaveLength(5000);
    expect(info).toMatchObject({ delimiter: ',', header: true });
    expect(rows[4999]?.values).toEqual({ text: 'row 4999, with a comma', label: '1' });
  });
});
