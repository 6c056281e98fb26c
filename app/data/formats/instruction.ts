/**
 * Instruction rows (Alpaca): instruction, optional input, output. The user turn is the instruction,
 * followed by the input after a blank line when there is one (as Alpaca's own prompt does); the
 * output is the trained assistant turn.
 */
import type { ConversationExample, Turn } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { checkColumns, columnOrDefault, readOptionalText, readText, sourceOf, type MapContext } from './fields.ts';
import type { FormatMapper } from './types.ts';

export interface InstructionMapping {
  format: 'instruction';
  /** Default "instruction". */
  instruction?: string;
  /** Default "input" where the file has it; null for none. */
  input?: string | null;
  /** Default "output". */
  output?: string;
  /** A column holding each row's system prompt. */
  system?: string;
  /** One system prompt for every row (a `system` column wins where it is not empty). */
  systemPrompt?: string;
}

export function createInstructionMapper(mapping: InstructionMapping, context: MapContext): FormatMapper | undefined {
  const instruction = columnOrDefault(mapping.instruction, 'instruction', context);
  const output = columnOrDefault(mapping.output, 'output', context, ['response']);
  const input = mapping.input === null ? undefined : (mapping.input ?? (context.columns && !context.columns.includes('input') ? undefined : 'input'));
  const required = [instruction, output, ...(mapping.input ? [mapping.input] : []), ...(mapping.system ? [mapping.system] : [])];
  if (!checkColumns(required, context, 'instruction')) return undefined;
  const { log } = context;
  return {
    map(row: RawRow): ConversationExample | undefined {
      const instructionText = readText(row, instruction, log);
      const inputText = input === undefined ? '' : readOptionalText(row, input, log);
      const outputText = readText(row, output, log, { emptyCode: 'EMPTY_ANSWER' });
      const systemText = mapping.system === undefined ? '' : readOptionalText(row, mapping.system, log);
      if (instructionText === undefined || inputText === undefined || outputText === undefined || systemText === undefined) return undefined;
      const system = systemText.trim() !== '' ? systemText : (mapping.systemPrompt ?? '');
      const turns: Turn[] = [];
      if (system) turns.push({ role: 'system', content: system, train: false });
      turns.push({ role: 'user', content: inputText.trim() ? `${instructionText}\n\n${inputText}` : instructionText, train: false });
      turns.push({ role: 'assistant', content: outputText, train: true });
      return { kind: 'conversation', source: sourceOf(row), turns };
    },
  };
}
