/**
 * Prompt/completion rows: the prompt is the user turn, the completion the trained assistant turn.
 * Either may also be a list of messages (TRL's conversational prompt/completion), read like chat rows:
 * prompt messages are never trained, completion messages are trained where they are the assistant's.
 */
import type { ConversationExample, Turn } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import type { ProblemLog } from '../validate.ts';
import { readMessages, roleTable, type MessageReading } from './chat.ts';
import { at, checkColumns, columnOrDefault, readText, sourceOf, type MapContext } from './fields.ts';
import type { FormatMapper } from './types.ts';

export interface PromptCompletionMapping {
  format: 'prompt-completion';
  /** Default "prompt". */
  prompt?: string;
  /** Default "completion". */
  completion?: string;
  systemPrompt?: string;
}

export function createPromptCompletionMapper(mapping: PromptCompletionMapping, context: MapContext): FormatMapper | undefined {
  const prompt = columnOrDefault(mapping.prompt, 'prompt', context);
  const completion = columnOrDefault(mapping.completion, 'completion', context);
  if (!checkColumns([prompt, completion], context, 'prompt/completion')) return undefined;
  const reading: MessageReading = { style: 'openai', roles: roleTable(undefined) };
  const { log } = context;
  return {
    map(row: RawRow): ConversationExample | undefined {
      const promptTurns = readPart(row, prompt, 'user', reading, log);
      const completionTurns = readPart(row, completion, 'assistant', reading, log);
      if (!promptTurns || !completionTurns) return undefined;
      const trained = completionTurns.map((turn) => ({ ...turn, train: turn.role === 'assistant' }));
      if (!trained.some((turn) => turn.train)) {
        log.add('NO_ASSISTANT_TURN', at(row, completion), 'the completion has no assistant message to learn from');
        return undefined;
      }
      const turns: Turn[] = [...promptTurns, ...trained];
      if (mapping.systemPrompt && turns[0]?.role !== 'system') turns.unshift({ role: 'system', content: mapping.systemPrompt, train: false });
      return { kind: 'conversation', source: sourceOf(row), turns };
    },
  };
}

function readPart(row: RawRow, column: string, role: 'user' | 'assistant', reading: MessageReading, log: ProblemLog): Turn[] | undefined {
  if (Array.isArray(row.values[column])) return readMessages(row, column, reading, log);
  const text = readText(row, column, log, { emptyCode: role === 'assistant' ? 'EMPTY_ANSWER' : 'EMPTY_FIELD' });
  return text === undefined ? undefined : [{ role, content: text, train: false }];
}
