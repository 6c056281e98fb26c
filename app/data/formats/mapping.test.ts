import { describe, expect, it } from 'vitest';
import { ProblemLog } from '../validate.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';
import { createRowMapper, suggestMapping } from './mapping.ts';
import { parsePromptTemplate, renderPromptTemplate } from './placeholders.ts';

describe('createRowMapper', () => {
  it('maps rows one at a time as they stream in, counting rows and examples', () => {
    const log = new ProblemLog('stream.jsonl');
    const mapper = createRowMapper({ format: 'text' }, { log });
    for (const row of rowsOf({ text: 'a' }, { text: '' }, { text: 'c' })) mapper.map(row);
    expect(mapper.summary()).toEqual({ format: 'text', rows: 3, examples: 2 });
    expect(log.report().rowsWithErrors).toBe(1);
  });

  it('maps no row at all when a mapped column is missing, and says so once', () => {
    const { examples, summary, report } = mapForTest(rowsOf({ a: 1 }, { a: 2 }), { format: 'question-answer' }, ['a']);
    expect(examples).toEqual([]);
    expect(summary).toMatchObject({ rows: 2, examples: 0 });
    expect(report.kinds).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'MISSING_COLUMN', count: 2 });
  });
});

describe('suggestMapping', () => {
  it('suggests the format the usual column names point to', () => {
    expect(suggestMapping(['instruction', 'input', 'output'])).toEqual({ format: 'instruction' });
    expect(suggestMapping(['question', 'answer'])).toEqual({ format: 'question-answer' });
    expect(suggestMapping(['text', 'label'])).toEqual({ format: 'classification' });
    expect(suggestMapping(['messages'])).toEqual({ format: 'chat' });
    expect(suggestMapping(['conversations'])).toEqual({ format: 'chat' });
    expect(suggestMapping(['prompt', 'completion'])).toEqual({ format: 'prompt-completion' });
    expect(suggestMapping(['input_ids', 'attention_mask'])).toEqual({ format: 'tokens' });
    expect(suggestMapping(['text'])).toEqual({ format: 'text' });
    expect(suggestMapping(['column_1', 'column_2'])).toBeUndefined();
  });
});

describe('prompt templates', () => {
  it('fills placeholders and keeps doubled braces as literal braces', () => {
    const template = parsePromptTemplate('{{"json": true}} {text} / { name }');
    expect(template.fields).toEqual(['text', 'name']);
    expect(renderPromptTemplate(template, new Map([['text', 'T'], ['name', 'N']]))).toBe('{"json": true} T / N');
  });

  it('refuses unbalanced braces and empty names, saying where', () => {
    expect(() => parsePromptTemplate('a {text')).toThrow(/position 3 is never closed/);
    expect(() => parsePromptTemplate('a } b')).toThrow(/closes nothing/);
    expect(() => parsePromptTemplate('a {} b')).toThrow(/no valid name/);
  });
});
