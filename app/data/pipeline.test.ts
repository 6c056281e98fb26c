/**
 * The whole path a user's file takes: import, map, validate, choose what to do with bad rows, split.
 * The broken files are real rows of the fixtures with faults put in on purpose.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConversationExample } from './example.ts';
import { mapRows } from './formats/mapping.ts';
import { GSM8K_EXTRACTOR } from './formats/question-answer.ts';
import { importFile } from './import/import-file.ts';
import { labelOf, splitSeeded } from './split.ts';
import { FIXTURES, fixturePath } from './test-support/fixtures.ts';
import { applyBadRowPolicy, formatValidationReport } from './validate.ts';

function gsm8kLines(count: number): string[] {
  return readFileSync(fixturePath(FIXTURES.gsm8kTrain), 'utf8').split('\n').slice(0, count);
}

describe('a broken GSM8K file, end to end', () => {
  const lines = gsm8kLines(12);
  lines[6] = lines[6]!.slice(0, -1); // bad JSON on line 7: the closing brace is gone
  lines[8] = JSON.stringify({ question: 'What is 2+2?' }); // no answer field on line 9
  lines[9] = JSON.stringify({ question: 'What is 3+3?', answer: 'Six, but no marker.' }); // no "####" on line 10
  lines.splice(3, 0, ''); // a blank line, which moves lines 4-12 down by one
  const file = new File([`\uFEFF${lines.join('\r\n')}\r\n`], 'train-broken.jsonl');

  it('reports every problem at once, with lines, rows and what to do', async () => {
    const imported = await importFile(file);
    const { examples, summary } = mapRows(imported.rows, { format: 'question-answer', extractor: GSM8K_EXTRACTOR }, { log: imported.problems, columns: imported.info.columns });
    expect(imported.info).toMatchObject({ format: 'jsonl', rows: 12, bom: true });
    expect(summary).toMatchObject({ rows: 11, examples: 9 });
    const report = imported.problems.report();
    expect(report).toMatchObject({ errors: 3, warnings: 1, rowsWithErrors: 3, fileErrors: false });
    expect(report.kinds.map((kind) => [kind.code, kind.rows, kind.lines])).toEqual([
      ['BAD_JSON', [7], [8]],
      ['MISSING_FIELD', [9], [10]],
      ['ANSWER_NOT_FOUND', [10], [11]],
      ['BLANK_LINE', [], [4]],
    ]);
    const text = formatValidationReport(report);
    expect(text).toContain('train-broken.jsonl, line 10 (row 9), field "answer": the row has no field "answer"');
    expect(text).toContain('Fix the JSON at these lines, or drop these rows.');

    const kept = applyBadRowPolicy(examples, imported.problems, 'drop');
    expect(kept.examples).toHaveLength(9);
    expect(kept.droppedRows).toBe(3);
    expect(() => applyBadRowPolicy(examples, imported.problems, 'refuse')).toThrow(expect.objectContaining({ code: 'DATA_INVALID_ROWS' }));
    expect((kept.examples[0] as ConversationExample).expected).toEqual({ kind: 'answer', answer: '72' });
  });
});

describe('a finance cocktail of the real files, mapped and split', () => {
  it('prepares FPB, Twitter, GSM8K and Alpaca with no problem in any of them', async () => {
    const fpb = await importFile(new File([readFileSync(fixturePath(FIXTURES.fpb))], 'Sentences_50Agree.txt'), { delimiter: '@', columnNames: ['sentence', 'label'] });
    const twitter = await importFile(new File([readFileSync(fixturePath(FIXTURES.twitterTrain))], 'sent_train.csv'));
    const gsm8k = await importFile(new File([readFileSync(fixturePath(FIXTURES.gsm8kTrain))], 'train.jsonl'));
    const alpaca = await importFile(new File([readFileSync(fixturePath(FIXTURES.alpaca))], 'alpaca_en_demo.json'));
    const tasks = [
      { imported: fpb, mapping: { format: 'classification', labels: ['negative', 'neutral', 'positive'] } as const },
      { imported: twitter, mapping: { format: 'classification', verbalizer: { '0': 'bearish', '1': 'bullish', '2': 'neutral' } } as const },
      { imported: gsm8k, mapping: { format: 'question-answer', extractor: GSM8K_EXTRACTOR } as const },
      { imported: alpaca, mapping: { format: 'instruction' } as const },
    ];
    const sizes = tasks.map(({ imported, mapping }) => {
      const { examples } = mapRows(imported.rows, mapping, { log: imported.problems, columns: imported.info.columns });
      const kept = applyBadRowPolicy(examples, imported.problems, 'refuse');
      const splits = splitSeeded(kept.examples, { validation: 0.1, test: 0, seed: 17, stratify: labelOf });
      return [kept.examples.length, splits.train.length, splits.validation.length];
    });
    expect(sizes).toEqual([
      [4846, 4361, 485],
      [9543, 8589, 954],
      [7473, 6726, 747],
      [999, 899, 100],
    ]);
  });
});
