import { describe, expect, it } from 'vitest';
import { importFile } from '../import/import-file.ts';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';

describe('instruction format', () => {
  it('maps all 999 Alpaca rows: instruction (+ input) as the user turn, output as the trained answer', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.alpaca));
    const { examples, summary, report } = mapForTest(rows, { format: 'instruction' }, info.columns);
    expect(report.kinds).toEqual([]);
    expect(summary).toEqual({ format: 'instruction', rows: 999, examples: 999 });
    expect(examples[0]).toMatchObject({
      kind: 'conversation',
      source: { row: 1, line: 2 },
      turns: [
        { role: 'user', content: 'Describe a process of making crepes.', train: false },
        { role: 'assistant', train: true },
      ],
    });
    const withInput = rows.findIndex((row) => row.values.input !== '');
    const example = examples[withInput];
    expect(example?.kind === 'conversation' && example.turns[0]?.content).toBe(`${rows[withInput]?.values.instruction}\n\n${rows[withInput]?.values.input}`);
  });

  it('adds a system prompt from a column or a fixed one, and works without an input column', () => {
    const rows = rowsOf({ q: 'Add 2 and 3', a: '5', sys: '' }, { q: 'Say hi', a: 'hi', sys: 'Be brief.' });
    const { examples, report } = mapForTest(rows, { format: 'instruction', instruction: 'q', output: 'a', system: 'sys', systemPrompt: 'You are helpful.' }, ['q', 'a', 'sys']);
    expect(report.kinds).toEqual([]);
    expect(examples.map((e) => (e.kind === 'conversation' ? e.turns.map((t) => `${t.role}:${t.content}`) : []))).toEqual([
      ['system:You are helpful.', 'user:Add 2 and 3', 'assistant:5'],
      ['system:Be brief.', 'user:Say hi', 'assistant:hi'],
    ]);
  });

  it('reports a missing instruction, an empty output and a wrong type, each with its row', () => {
    const rows = rowsOf({ instruction: 'ok', input: '', output: 'fine' }, { input: '', output: 'x' }, { instruction: 'y', input: '', output: '  ' }, { instruction: ['list'], input: '', output: 'z' });
    const { examples, report } = mapForTest(rows, { format: 'instruction' });
    expect(examples).toHaveLength(1);
    expect(report.kinds.map((kind) => [kind.code, kind.rows])).toEqual([
      ['MISSING_FIELD', [2]],
      ['EMPTY_ANSWER', [3]],
      ['WRONG_TYPE', [4]],
    ]);
    expect(report.kinds[0]?.messages[0]).toBe('test.jsonl, line 3 (row 2), field "instruction": the row has no field "instruction"');
  });

  it('reports a mapped column the file lacks once, naming the columns it has', () => {
    const { examples, report } = mapForTest(rowsOf({ prompt: 'a', output: 'b' }), { format: 'instruction' }, ['prompt', 'output']);
    expect(examples).toEqual([]);
    expect(report.kinds[0]).toMatchObject({ code: 'MISSING_COLUMN', count: 1, rows: [] });
    expect(report.kinds[0]?.messages[0]).toContain('uses column "instruction", which the file does not have (its columns: prompt, output)');
  });
});
