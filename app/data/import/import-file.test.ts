import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { writeTinyParquet } from '../test-support/tiny-parquet.ts';
import { ProblemLog } from '../validate.ts';
import { importFile, openRowStream } from './import-file.ts';
import { collectRows } from './types.ts';

describe('importFile', () => {
  it('imports each real fixture with the importer its format needs', async () => {
    const gsm8k = await importFile(fixtureFile(FIXTURES.gsm8kTrain));
    expect(gsm8k.info).toMatchObject({ format: 'jsonl', rows: 7473 });
    const alpaca = await importFile(fixtureFile(FIXTURES.alpaca));
    expect(alpaca.info).toMatchObject({ format: 'json', rows: 999 });
    const twitter = await importFile(fixtureFile(FIXTURES.twitterTrain));
    expect(twitter.info).toMatchObject({ format: 'csv', rows: 9543, delimiter: ',' });
    for (const imported of [gsm8k, alpaca, twitter]) expect(imported.problems.report().errors).toBe(0);
  });

  it('reads FPB as delimited text once its "@" separator is given', async () => {
    const fpb = await importFile(fixtureFile(FIXTURES.fpb), { delimiter: '@', columnNames: ['sentence', 'label'] });
    expect(fpb.info).toMatchObject({ format: 'csv', rows: 4846, header: false, columns: ['sentence', 'label'] });
    expect(fpb.problems.fileName).toBe('Sentences_50Agree.txt');
  });

  it('reads FPB as plain text lines when nothing is said about it, since it is a .txt file', async () => {
    const fpb = await importFile(fixtureFile(FIXTURES.fpb));
    expect(fpb.info).toMatchObject({ format: 'text', rows: 4846 });
    expect(fpb.rows[0]?.values.text).toMatch(/growing \.@neutral$/);
  });

  it('detects the format of a byte stream without losing its first bytes', async () => {
    const file = fixtureFile(FIXTURES.gsm8kTrain);
    const problems = new ProblemLog('stream');
    const stream = await openRowStream(file.stream(), { problems, fileName: 'upload' });
    expect(stream.format).toBe('jsonl');
    const { rows } = await collectRows(stream.rows);
    expect(rows).toHaveLength(7473);
    expect(rows[0]?.values.question).toMatch(/^Natalia sold clips/);
  });

  it('reads Parquet from a stream by gathering it first', async () => {
    const parquet = writeTinyParquet([{ name: 'text', kind: 'string', values: ['a', 'b'] }]);
    const imported = await importFile(new Blob([parquet]).stream(), { fileName: 'rows.parquet' });
    expect(imported.info).toMatchObject({ format: 'parquet', rows: 2 });
  });

  it('takes the format it is given, and names the log after the file', async () => {
    const imported = await importFile(new File(['a\tb\n1\t2\n'], 'weird.dat'), { format: 'csv' });
    expect(imported.info).toMatchObject({ format: 'csv', delimiter: '\t', columns: ['a', 'b'] });
    expect(imported.problems.fileName).toBe('weird.dat');
  });

  it('refuses Parquet given as text', async () => {
    await expect(importFile('PAR1', { format: 'parquet' })).rejects.toMatchObject({ code: 'DATA_UNREADABLE' });
  });
});
