import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { zipSync } from 'fflate';
import { fixturePath } from '../../../test/fixtures.ts';
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

describe('files that hold no text rows', () => {
  it('refuses a binary file renamed .csv (the fixture model’s safetensors), naming it and where the NUL byte is', async () => {
    const bytes = new Uint8Array(await readFile(fixturePath('models/aidreams260K/model.safetensors')));
    const failure = await importFile(new File([bytes], 'sentences.csv')).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'DATA_BINARY', message: expect.stringMatching(/^sentences\.csv holds binary data \(a NUL byte at offset \d+\), not csv text/) });
    expect((failure as { details: { offset: number } }).details.offset).toBe(bytes.indexOf(0));
  });

  it('names what a renamed spreadsheet or PDF is', async () => {
    const zip = zipSync({ 'xl/workbook.xml': new TextEncoder().encode('<workbook/>') });
    await expect(importFile(new File([zip], 'prices.csv'))).rejects.toThrow(/^prices\.csv is a zip archive \(an \.xlsx spreadsheet or \.zip\), not csv text/);
    await expect(importFile(new File([new TextEncoder().encode('%PDF-1.7\nsome text')], 'report.jsonl'))).rejects.toThrow(/^report\.jsonl is a PDF document, not jsonl text/);
  });

  it('says an empty file is empty, and a file of blank space too', async () => {
    await expect(importFile(new File([], 'train.jsonl'))).rejects.toMatchObject({ code: 'DATA_EMPTY', message: expect.stringMatching(/^train\.jsonl is empty \(0 bytes\)/) });
    await expect(importFile(new File(['\n  \r\n'], 'train.csv'))).rejects.toMatchObject({ code: 'DATA_EMPTY', message: expect.stringMatching(/^train\.csv holds only blank space \(5 bytes\)/) });
  });

  it('still reads UTF-16 text, whose NUL bytes are part of its characters', async () => {
    const text = '\ufefftext,label\nup,1\ndown,0\n';
    const utf16 = new Uint8Array(text.length * 2);
    for (let i = 0; i < text.length; i++) new DataView(utf16.buffer).setUint16(i * 2, text.charCodeAt(i), true);
    const imported = await importFile(new File([utf16], 'small.csv'));
    expect(imported.rows.map((row) => row.values)).toEqual([{ text: 'up', label: '1' }, { text: 'down', label: '0' }]);
  });
});
