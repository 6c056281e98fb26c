/**
 * Column mapping: which format a file's rows are in and which column plays which part. This is the
 * one place that knows every format; each format lives in its own module.
 */
import type { Example } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { createChatMapper, type ChatMapping } from './chat.ts';
import { createClassificationMapper, type ClassificationMapping } from './classification.ts';
import type { MapContext } from './fields.ts';
import { createInstructionMapper, type InstructionMapping } from './instruction.ts';
import { createPromptCompletionMapper, type PromptCompletionMapping } from './prompt-completion.ts';
import { createQuestionAnswerMapper, type QuestionAnswerMapping } from './question-answer.ts';
import { createTextMapper, type TextMapping } from './text.ts';
import { createTokensMapper, type TokensMapping } from './tokens.ts';
import type { FormatMapper, MappingSummary, RowMapper } from './types.ts';

export type FormatMapping =
  | InstructionMapping
  | ChatMapping
  | PromptCompletionMapping
  | TextMapping
  | ClassificationMapping
  | QuestionAnswerMapping
  | TokensMapping;

export type FormatName = FormatMapping['format'];

export const FORMAT_NAMES: readonly FormatName[] = ['instruction', 'chat', 'prompt-completion', 'text', 'classification', 'question-answer', 'tokens'];

/**
 * A mapper for the rows of one file. Malformed mappings (a bad template, a label set that makes no
 * sense) throw DATA_BAD_MAPPING here, before any row; a column the file lacks is reported once as
 * MISSING_COLUMN, and then no row maps.
 */
export function createRowMapper(mapping: FormatMapping, context: MapContext): RowMapper {
  const mapper = formatMapper(mapping, context);
  let rows = 0;
  let examples = 0;
  return {
    map(row: RawRow): Example | undefined {
      rows++;
      const example = mapper?.map(row);
      if (example) examples++;
      return example;
    },
    summary(): MappingSummary {
      const labels = mapper?.labels?.();
      return { format: mapping.format, rows, examples, ...(labels ? { labels } : {}) };
    },
  };
}

function formatMapper(mapping: FormatMapping, context: MapContext): FormatMapper | undefined {
  switch (mapping.format) {
    case 'instruction':
      return createInstructionMapper(mapping, context);
    case 'chat':
      return createChatMapper(mapping, context);
    case 'prompt-completion':
      return createPromptCompletionMapper(mapping, context);
    case 'text':
      return createTextMapper(mapping, context);
    case 'classification':
      return createClassificationMapper(mapping, context);
    case 'question-answer':
      return createQuestionAnswerMapper(mapping, context);
    case 'tokens':
      return createTokensMapper(mapping, context);
  }
}

export interface MappedRows {
  examples: Example[];
  summary: MappingSummary;
}

export function mapRows(rows: Iterable<RawRow>, mapping: FormatMapping, context: MapContext): MappedRows {
  const mapper = createRowMapper(mapping, context);
  const examples: Example[] = [];
  for (const row of rows) {
    const example = mapper.map(row);
    if (example) examples.push(example);
  }
  return { examples, summary: mapper.summary() };
}

/**
 * The format a file's columns suggest, with the conventional column names, as a starting point the
 * user can change (`cocktail import` prints it). Undefined when nothing fits.
 */
export function suggestMapping(columns: readonly string[]): FormatMapping | undefined {
  const has = (name: string): boolean => columns.includes(name);
  if (has('input_ids')) return { format: 'tokens' };
  if (has('messages') || has('conversations')) return { format: 'chat' };
  if (has('instruction') && (has('output') || has('response'))) return { format: 'instruction' };
  if (has('prompt') && has('completion')) return { format: 'prompt-completion' };
  if ((has('question') || has('query') || has('problem')) && (has('answer') || has('solution'))) return { format: 'question-answer' };
  if ((has('text') || has('sentence')) && (has('label') || has('labels') || has('sentiment'))) return { format: 'classification' };
  if (has('text') || has('content')) return { format: 'text' };
  return undefined;
}
