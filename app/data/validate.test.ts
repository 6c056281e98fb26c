import { describe, expect, it } from 'vitest';
import { applyBadRowPolicy, describeLocation, formatValidationReport, ProblemLog } from './validate.ts';

const example = (row: number) => ({ source: { row } });

describe('ProblemLog', () => {
  it('counts every problem exactly but lists only the first rows, lines and messages of each kind', () => {
    const log = new ProblemLog('big.jsonl', { maxLocations: 3, maxMessages: 2 });
    for (let row = 1; row <= 50; row++) log.add('BAD_JSON', { row, line: row + 1 }, 'not valid JSON');
    const [kind] = log.report().kinds;
    expect(kind).toMatchObject({ code: 'BAD_JSON', count: 50, rows: [1, 2, 3], lines: [2, 3, 4] });
    expect(kind?.messages).toEqual(['big.jsonl, line 2 (row 1): not valid JSON', 'big.jsonl, line 3 (row 2): not valid JSON']);
    expect(log.rowsWithErrors().size).toBe(50);
  });

  it('sorts errors before warnings and larger counts first, and keeps totals per severity', () => {
    const log = new ProblemLog('f.csv');
    log.add('BLANK_LINE', { line: 3 }, 'blank line skipped');
    log.add('MISSING_FIELD', { row: 1, field: 'label' }, 'no field');
    log.add('LABEL_NOT_IN_SET', { row: 2, field: 'label' }, 'bad label');
    log.add('LABEL_NOT_IN_SET', { row: 3, field: 'label' }, 'bad label');
    const report = log.report();
    expect(report.kinds.map((kind) => kind.code)).toEqual(['LABEL_NOT_IN_SET', 'MISSING_FIELD', 'BLANK_LINE']);
    expect(report).toMatchObject({ fileName: 'f.csv', errors: 3, warnings: 1, rowsWithErrors: 3, fileErrors: false });
  });

  it('counts a row with several errors once among rows with errors', () => {
    const log = new ProblemLog('f.csv');
    log.add('MISSING_FIELD', { row: 4 }, 'a');
    log.add('EMPTY_ANSWER', { row: 4 }, 'b');
    expect(log.report().rowsWithErrors).toBe(1);
  });

  it('treats an error without a row as an error about the whole file', () => {
    const log = new ProblemLog('f.csv');
    log.add('MISSING_COLUMN', { field: 'label' }, 'no such column');
    expect(log.hasFileErrors).toBe(true);
    expect(log.report().fileErrors).toBe(true);
  });

  it('copies itself so that a second mapping attempt starts from the import\'s problems only', () => {
    const imported = new ProblemLog('f.jsonl');
    imported.add('BAD_JSON', { row: 3, line: 3 }, 'bad');
    const firstAttempt = imported.copy();
    firstAttempt.add('MISSING_FIELD', { row: 1, field: 'output' }, 'no field');
    const secondAttempt = imported.copy();
    expect(secondAttempt.report().kinds.map((kind) => kind.code)).toEqual(['BAD_JSON']);
    expect(firstAttempt.rowsWithErrors()).toEqual(new Set([3, 1]));
    expect(imported.rowsWithErrors()).toEqual(new Set([3]));
  });

  it('gives a report that survives JSON and structured cloning', () => {
    const log = new ProblemLog('f.csv');
    log.add('RAGGED_ROW', { row: 1, line: 2 }, '3 fields');
    const report = log.report();
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(structuredClone(report)).toEqual(report);
  });
});

describe('describeLocation and formatValidationReport', () => {
  it('names the file, line, row and field', () => {
    expect(describeLocation('sent_train.csv', { line: 7, row: 6, field: 'label' })).toBe('sent_train.csv, line 7 (row 6), field "label"');
    expect(describeLocation('data.parquet', { row: 6 })).toBe('data.parquet, row 6');
    expect(describeLocation('a.json', {})).toBe('a.json');
  });

  it('prints every kind with its count, where, what to do, and how many more', () => {
    const log = new ProblemLog('train.jsonl', { maxLocations: 2 });
    for (const row of [3, 9, 12]) log.add('EMPTY_ANSWER', { row, line: row, field: 'answer' }, 'the value is empty');
    const text = formatValidationReport(log.report());
    expect(text).toContain('train.jsonl: 3 error(s) in 3 row(s), 0 warning(s).');
    expect(text).toContain('error EMPTY_ANSWER x3: There is nothing to learn from a row with an empty answer');
    expect(text).toContain('rows: 3, 9 and 1 more');
    expect(text).toContain('train.jsonl, line 12 (row 12), field "answer": the value is empty');
    expect(formatValidationReport(new ProblemLog('ok.csv').report())).toBe('ok.csv: no problems found.');
  });
});

describe('applyBadRowPolicy', () => {
  it('drops the examples of rows with errors and says how many rows were left out', () => {
    const log = new ProblemLog('f.csv');
    log.add('LABEL_NOT_IN_SET', { row: 2 }, 'bad');
    log.add('BAD_JSON', { row: 4 }, 'bad');
    log.add('STRAY_QUOTE', { row: 3 }, 'only a warning');
    const kept = applyBadRowPolicy([example(1), example(2), example(3), example(5)], log, 'drop');
    expect(kept.examples.map((e) => e.source.row)).toEqual([1, 3, 5]);
    expect(kept.droppedRows).toBe(2);
    expect(kept.report.errors).toBe(2);
  });

  it('refuses rows with errors when asked to, with the whole report in the error', () => {
    const log = new ProblemLog('f.csv');
    log.add('MISSING_FIELD', { row: 2, field: 'text' }, 'the row has no field "text"');
    expect(() => applyBadRowPolicy([example(1)], log, 'refuse')).toThrow(expect.objectContaining({ code: 'DATA_INVALID_ROWS', details: expect.objectContaining({ report: expect.anything() }) }));
    expect(applyBadRowPolicy([example(1)], new ProblemLog('clean.csv'), 'refuse').droppedRows).toBe(0);
  });

  it('refuses a file-level error under either policy, since dropping rows cannot fix it', () => {
    const log = new ProblemLog('f.csv');
    log.add('MISSING_COLUMN', { field: 'label' }, 'no column "label"');
    expect(() => applyBadRowPolicy([example(1)], log, 'drop')).toThrow(/MISSING_COLUMN/);
  });

  it('refuses when nothing is left after dropping', () => {
    const log = new ProblemLog('f.csv');
    log.add('EMPTY_ANSWER', { row: 1 }, 'empty');
    expect(() => applyBadRowPolicy([example(1)], log, 'drop')).toThrow(expect.objectContaining({ code: 'DATA_NO_EXAMPLES' }));
  });
});
