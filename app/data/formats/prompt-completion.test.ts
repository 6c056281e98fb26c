import { describe, expect, it } from 'vitest';
import type { ConversationExample } from '../example.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';

describe('prompt/completion format', () => {
  it('makes the prompt the user turn and the completion the trained answer', () => {
    const { examples, report } = mapForTest(rowsOf({ prompt: 'Revenue grew', completion: ' 12 % in Q3.' }), { format: 'prompt-completion' });
    expect(report.kinds).toEqual([]);
    expect(examples[0]).toEqual({
      kind: 'conversation',
      source: { row: 1, line: 2 },
      turns: [
        { role: 'user', content: 'Revenue grew', train: false },
        { role: 'assistant', content: ' 12 % in Q3.', train: true },
      ],
    });
  });

  it('reads conversational prompt and completion lists (TRL style)', () => {
    const rows = rowsOf({
      prompt: [{ role: 'system', content: 'S' }, { role: 'user', content: 'U' }],
      completion: [{ role: 'assistant', content: 'A' }],
    });
    const { examples, report } = mapForTest(rows, { format: 'prompt-completion' });
    expect(report.kinds).toEqual([]);
    expect((examples[0] as ConversationExample).turns).toEqual([
      { role: 'system', content: 'S', train: false },
      { role: 'user', content: 'U', train: false },
      { role: 'assistant', content: 'A', train: true },
    ]);
  });

  it('reports an empty prompt, an empty completion, and a completion with no assistant message', () => {
    const rows = rowsOf({ prompt: '', completion: 'x' }, { prompt: 'p', completion: '' }, { prompt: 'p', completion: [{ role: 'user', content: 'not an answer' }] });
    const { examples, report } = mapForTest(rows, { format: 'prompt-completion' });
    expect(examples).toEqual([]);
    expect(report.kinds.map((kind) => [kind.code, kind.rows])).toEqual([
      ['EMPTY_FIELD', [1]],
      ['EMPTY_ANSWER', [2]],
      ['NO_ASSISTANT_TURN', [3]],
    ]);
  });
});
