import { describe, expect, it } from 'vitest';
import { mapForTest, rowsOf } from '../test-support/rows.ts';

const turnsOf = (example: unknown) => (example as { turns: { role: string; content: string; train: boolean }[] }).turns;

describe('chat format', () => {
  it('reads OpenAI messages and trains every assistant turn', () => {
    const rows = rowsOf({
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Bye' },
        { role: 'assistant', content: 'Bye.' },
      ],
    });
    const { examples, report } = mapForTest(rows, { format: 'chat' });
    expect(report.kinds).toEqual([]);
    expect(turnsOf(examples[0]).map((t) => [t.role, t.train])).toEqual([
      ['system', false],
      ['user', false],
      ['assistant', true],
      ['user', false],
      ['assistant', true],
    ]);
  });

  it('trains only the last assistant turn when asked', () => {
    const rows = rowsOf({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'assistant', content: 'd' }] });
    const { examples } = mapForTest(rows, { format: 'chat', train: 'last-assistant' });
    expect(turnsOf(examples[0]).map((t) => t.train)).toEqual([false, false, false, true]);
  });

  it('reads ShareGPT conversations (from/value, human/gpt) from the "conversations" column', () => {
    const rows = rowsOf({ conversations: [{ from: 'human', value: 'What is EBITDA?' }, { from: 'gpt', value: 'Earnings before interest, ...' }] });
    const { examples, report } = mapForTest(rows, { format: 'chat' }, ['conversations']);
    expect(report.kinds).toEqual([]);
    expect(turnsOf(examples[0])).toEqual([
      { role: 'user', content: 'What is EBITDA?', train: false },
      { role: 'assistant', content: 'Earnings before interest, ...', train: true },
    ]);
  });

  it('maps other role names as told, case-insensitively, and reports a role nobody mapped', () => {
    const rows = rowsOf(
      { messages: [{ from: 'Customer', value: 'Refund?' }, { from: 'Agent', value: 'Sure.' }] },
      { messages: [{ from: 'Customer', value: 'Hi' }, { from: 'tool', value: '{}' }, { from: 'narrator', value: '...' }] },
    );
    const { examples, report } = mapForTest(rows, { format: 'chat', style: 'sharegpt', roles: { customer: 'user', agent: 'assistant' } });
    expect(examples).toHaveLength(1);
    expect(report.kinds[0]).toMatchObject({ code: 'UNKNOWN_ROLE', rows: [2] });
    expect(report.kinds[0]?.messages[0]).toBe('test.jsonl, line 3 (row 2), field "messages": role "tool", "narrator" is not mapped to system, user or assistant');
  });

  it('reports a conversation without an assistant turn, empty answers, and malformed messages', () => {
    const rows = rowsOf(
      { messages: [{ role: 'user', content: 'Anyone?' }] },
      { messages: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: '' }] },
      { messages: 'not json' },
      { messages: [{ speaker: 'x', text: 'y' }] },
      { messages: [{ role: 'user', content: 5 }] },
      { other: 1 },
    );
    const { examples, report } = mapForTest(rows, { format: 'chat' });
    expect(examples).toEqual([]);
    expect(Object.fromEntries(report.kinds.map((kind) => [kind.code, kind.rows]))).toEqual({
      NO_ASSISTANT_TURN: [1],
      EMPTY_ANSWER: [2],
      WRONG_TYPE: [3, 4, 5],
      MISSING_FIELD: [6],
    });
  });

  it('reads messages held as JSON text in a CSV cell, and OpenAI content given as text parts', () => {
    const cell = JSON.stringify([{ role: 'user', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] }, { role: 'assistant', content: 'Hello' }]);
    const { examples, report } = mapForTest(rowsOf({ messages: cell }), { format: 'chat' });
    expect(report.kinds).toEqual([]);
    expect(turnsOf(examples[0])[0]?.content).toBe('Hi there');
  });

  it('leaves out empty system messages and adds the mapping\'s system prompt where none is left', () => {
    const rows = rowsOf({ messages: [{ role: 'system', content: '' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] });
    const { examples } = mapForTest(rows, { format: 'chat', systemPrompt: 'You are a financial analyst.' });
    expect(turnsOf(examples[0]).map((t) => t.role)).toEqual(['system', 'user', 'assistant']);
    expect(turnsOf(examples[0])[0]?.content).toBe('You are a financial analyst.');
  });
});
