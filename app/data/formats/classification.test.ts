import { describe, expect, it } from 'vitest';
import type { ConversationExample } from '../example.ts';
import { importFile } from '../import/import-file.ts';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';

describe('classification format', () => {
  it('maps FPB: 4,846 rows, three labels inferred from the data, the label word as the trained answer', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.fpb), { delimiter: '@', columnNames: ['sentence', 'label'] });
    const { examples, summary, report } = mapForTest(
      rows,
      { format: 'classification', template: 'What is the sentiment of this news? Answer negative, neutral or positive.\n{text}' },
      info.columns,
    );
    expect(report.kinds).toEqual([]);
    expect(summary).toEqual({
      format: 'classification',
      rows: 4846,
      examples: 4846,
      labels: { labels: ['negative', 'neutral', 'positive'], words: ['negative', 'neutral', 'positive'], counts: [604, 2879, 1363], inferred: true },
    });
    const first = examples[0] as ConversationExample;
    expect(first.turns).toEqual([
      {
        role: 'user',
        content:
          'What is the sentiment of this news? Answer negative, neutral or positive.\nAccording to Gran , the company has no plans to move all production to Russia , although that is where the company is growing .',
        train: false,
      },
      { role: 'assistant', content: 'neutral', train: true },
    ]);
    expect(first.expected).toEqual({ kind: 'label', label: 'neutral', word: 'neutral' });
  });

  it('maps the Twitter file with a verbalizer 0/1/2 -> bearish/bullish/neutral and the {labels} placeholder', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.twitterTrain));
    const { examples, summary, report } = mapForTest(
      rows,
      { format: 'classification', verbalizer: { '0': 'bearish', '1': 'bullish', '2': 'neutral' }, template: 'Tweet: {text}\nIs it {labels}?' },
      info.columns,
    );
    expect(report.kinds).toEqual([]);
    expect(summary.labels).toEqual({ labels: ['0', '1', '2'], words: ['bearish', 'bullish', 'neutral'], counts: [1442, 1923, 6178], inferred: false });
    const first = examples[0] as ConversationExample;
    expect(first.turns[0]?.content).toBe('Tweet: $BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT\nIs it bearish, bullish, neutral?');
    expect(first.turns[1]).toEqual({ role: 'assistant', content: 'bearish', train: true });
    expect(first.expected).toEqual({ kind: 'label', label: '0', word: 'bearish' });
  });

  it('reports labels outside the label set, and missing, empty or wrongly typed labels', () => {
    const rows = rowsOf({ text: 'a', label: 'positive' }, { text: 'b', label: 'mixed' }, { text: 'c' }, { text: 'd', label: null }, { text: 'e', label: { x: 1 } }, { text: '', label: 'negative' });
    const { examples, report } = mapForTest(rows, { format: 'classification', labels: ['negative', 'neutral', 'positive'] });
    expect(examples).toHaveLength(1);
    expect(Object.fromEntries(report.kinds.map((kind) => [kind.code, kind.rows]))).toEqual({
      LABEL_NOT_IN_SET: [2],
      MISSING_FIELD: [3],
      EMPTY_FIELD: [4, 6],
      WRONG_TYPE: [5],
    });
    expect(report.kinds.find((kind) => kind.code === 'LABEL_NOT_IN_SET')?.messages[0]).toBe(
      'test.jsonl, line 3 (row 2), field "label": label "mixed" is not one of "negative", "neutral", "positive"',
    );
  });

  it('accepts numeric labels from JSON, fills other columns into the template, and orders inferred numeric labels numerically', () => {
    const rows = rowsOf({ text: 'x', label: 10, company: 'Nokia' }, { text: 'y', label: 2, company: 'Kone' });
    const { examples, summary } = mapForTest(rows, { format: 'classification', template: '{company}: {text}' });
    expect((examples[0] as ConversationExample).turns[0]?.content).toBe('Nokia: x');
    expect(summary.labels?.labels).toEqual(['2', '10']);
  });

  it('refuses mappings that cannot work, before reading any row', () => {
    expect(() => mapForTest([], { format: 'classification', template: '{text} -> {label}' })).toThrow(/give the answer away/);
    expect(() => mapForTest([], { format: 'classification', template: 'Pick one of {labels}: {text}' })).toThrow(/label set must be given/);
    expect(() => mapForTest([], { format: 'classification', labels: ['a', 'b'], verbalizer: { a: 'yes' } })).toThrow(/no word for label\(s\) "b"/);
    expect(() => mapForTest([], { format: 'classification', verbalizer: { a: 'same', b: 'same' } })).toThrow(/share one word/);
    expect(() => mapForTest([], { format: 'classification', labels: ['only'] })).toThrow(/at least two labels/);
    expect(() => mapForTest([], { format: 'classification', template: 'broken {text' })).toThrow(expect.objectContaining({ code: 'DATA_BAD_MAPPING' }));
  });

  it('reports a template column the file lacks as a missing column', () => {
    const { report } = mapForTest(rowsOf({ text: 'a', label: 'b' }), { format: 'classification', template: '{ticker}: {text}' }, ['text', 'label']);
    expect(report.kinds[0]).toMatchObject({ code: 'MISSING_COLUMN' });
    expect(report.kinds[0]?.messages[0]).toContain('"ticker"');
  });
});
