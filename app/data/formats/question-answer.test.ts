import { describe, expect, it } from 'vitest';
import type { ConversationExample } from '../example.ts';
import { importFile } from '../import/import-file.ts';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';
import { compileExtractor, GSM8K_EXTRACTOR } from './question-answer.ts';

describe('question/answer format', () => {
  it('maps all 7,473 GSM8K rows, extracting the final answer after "####"', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.gsm8kTrain));
    const { examples, summary, report } = mapForTest(rows, { format: 'question-answer', extractor: GSM8K_EXTRACTOR }, info.columns);
    expect(report.kinds).toEqual([]);
    expect(summary).toMatchObject({ rows: 7473, examples: 7473 });
    const first = examples[0] as ConversationExample;
    expect(first.expected).toEqual({ kind: 'answer', answer: '72' });
    expect(first.turns[1]?.content).toBe(rows[0]?.values.answer);
    expect(first.turns[1]?.train).toBe(true);
    const answers = examples.map((example) => (example as ConversationExample).expected);
    expect(answers.every((expected) => expected?.kind === 'answer' && /^-?\d+(\.\d+)?$/.test(expected.answer))).toBe(true);
    const withComma = rows.findIndex((row) => /#### \d{1,3},\d{3}/.test(String(row.values.answer)));
    expect((examples[withComma] as ConversationExample).expected).toEqual({ kind: 'answer', answer: '1080' });
  });

  it('trains on the extracted answer alone when asked, with a template around the question', () => {
    const rows = rowsOf({ question: 'What is 6 x 7?', answer: 'Six sevens.\n#### 42' });
    const { examples } = mapForTest(rows, { format: 'question-answer', extractor: GSM8K_EXTRACTOR, target: 'extracted', template: 'Q: {question}\nA:' });
    expect((examples[0] as ConversationExample).turns).toEqual([
      { role: 'user', content: 'Q: What is 6 x 7?\nA:', train: false },
      { role: 'assistant', content: '42', train: true },
    ]);
  });

  it('reports answers the extractor cannot find, and empty answers', () => {
    const rows = rowsOf({ question: 'a', answer: 'no marker here' }, { question: 'b', answer: 'ends with marker ####' }, { question: 'c', answer: '' }, { question: '', answer: '#### 1' });
    const { examples, report } = mapForTest(rows, { format: 'question-answer', extractor: GSM8K_EXTRACTOR });
    expect(examples).toEqual([]);
    expect(report.kinds.map((kind) => [kind.code, kind.rows])).toEqual([
      ['ANSWER_NOT_FOUND', [1, 2]],
      ['EMPTY_ANSWER', [3]],
      ['EMPTY_FIELD', [4]],
    ]);
    expect(report.kinds[0]?.messages[0]).toBe('test.jsonl, line 2 (row 1), field "answer": no final answer found in "no marker here"');
  });
});

describe('answer extractors', () => {
  it('takes the text after the last marker, dropping thousands separators only in numbers', () => {
    const gsm8k = compileExtractor(GSM8K_EXTRACTOR);
    expect(gsm8k('x #### 1 #### 2,250')).toBe('2250');
    expect(gsm8k('#### -1,000.5')).toBe('-1000.5');
    expect(gsm8k('#### 12,34')).toBe('12,34');
    expect(compileExtractor({ kind: 'after-marker', marker: 'Answer:' })('Answer: 1,000')).toBe('1,000');
  });

  it('uses a regular expression\'s first group, or its whole match', () => {
    expect(compileExtractor({ kind: 'regex', pattern: 'answer is \\(?([A-E])\\)?', flags: 'i' })('The ANSWER IS (C).')).toBe('C');
    expect(compileExtractor({ kind: 'regex', pattern: '\\d+' })('about 42 units')).toBe('42');
    expect(compileExtractor({ kind: 'regex', pattern: '\\d+' })('none')).toBeUndefined();
    expect(() => compileExtractor({ kind: 'regex', pattern: '(' })).toThrow(expect.objectContaining({ code: 'DATA_BAD_MAPPING' }));
  });

  it('takes the whole answer by default', () => {
    expect(compileExtractor({ kind: 'whole' })('  Paris ')).toBe('Paris');
  });
});
