/**
 * Question/answer rows with an answer extractor. The trained answer is the whole answer by default
 * (GSM8K's worked solution, which ends "#### 72"), or only the extracted part; either way the extracted
 * final answer is kept as `expected`, for exact-match evaluation.
 */
import type { ConversationExample, Turn } from '../example.ts';
import { DataError } from '../errors.ts';
import type { RawRow } from '../import/types.ts';
import { at, checkColumns, columnOrDefault, readText, sourceOf, type MapContext } from './fields.ts';
import { createPromptBuilder } from './prompt.ts';
import type { FormatMapper } from './types.ts';

export type AnswerExtractor =
  /** The whole answer is the final answer. */
  | { kind: 'whole' }
  /** The text after the last occurrence of a marker, trimmed. */
  | { kind: 'after-marker'; marker: string; removeThousandsSeparators?: boolean }
  /** The first capture group of a regular expression (or the whole match when it has none). */
  | { kind: 'regex'; pattern: string; flags?: string };

/** GSM8K: "... #### 1,080" -> "1080" (the benchmark's own scorer drops the commas too). */
export const GSM8K_EXTRACTOR: AnswerExtractor = { kind: 'after-marker', marker: '####', removeThousandsSeparators: true };

export interface QuestionAnswerMapping {
  format: 'question-answer';
  /** Default "question". */
  question?: string;
  /** Default "answer". */
  answer?: string;
  /** Default { kind: 'whole' }. */
  extractor?: AnswerExtractor;
  /** What the model learns to say: the whole answer (default) or only the extracted one. */
  target?: 'full' | 'extracted';
  /** The user turn; default "{question}". */
  template?: string;
  systemPrompt?: string;
}

export const QUESTION_PLACEHOLDER = 'question';

/** Returns the final answer, or undefined when there is none to find. */
export function compileExtractor(extractor: AnswerExtractor): (answer: string) => string | undefined {
  switch (extractor.kind) {
    case 'whole':
      return (answer) => answer.trim() || undefined;
    case 'after-marker': {
      if (extractor.marker === '') throw new DataError('DATA_BAD_MAPPING', 'The answer marker must not be empty.', {});
      return (answer) => {
        const position = answer.lastIndexOf(extractor.marker);
        if (position === -1) return undefined;
        const found = answer.slice(position + extractor.marker.length).trim();
        if (found === '') return undefined;
        return extractor.removeThousandsSeparators && /^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(found) ? found.replace(/,/g, '') : found;
      };
    }
    case 'regex': {
      let pattern: RegExp;
      try {
        pattern = new RegExp(extractor.pattern, (extractor.flags ?? '').replace(/[gy]/g, ''));
      } catch (error) {
        throw new DataError('DATA_BAD_MAPPING', `The answer pattern ${JSON.stringify(extractor.pattern)} is not a valid regular expression: ${String(error)}`, {
          pattern: extractor.pattern,
        });
      }
      return (answer) => {
        const match = pattern.exec(answer);
        const found = (match?.[1] ?? match?.[0])?.trim();
        return found || undefined;
      };
    }
  }
}

export function createQuestionAnswerMapper(mapping: QuestionAnswerMapping, context: MapContext): FormatMapper | undefined {
  const questionColumn = columnOrDefault(mapping.question, 'question', context, ['query', 'problem']);
  const answerColumn = columnOrDefault(mapping.answer, 'answer', context, ['solution']);
  const extract = compileExtractor(mapping.extractor ?? { kind: 'whole' });
  const prompt = createPromptBuilder(mapping.template ?? `{${QUESTION_PLACEHOLDER}}`, [QUESTION_PLACEHOLDER], answerColumn, 'question template');
  if (!checkColumns([questionColumn, answerColumn, ...prompt.columns], context, 'question/answer')) return undefined;
  const { log } = context;
  return {
    map(row: RawRow): ConversationExample | undefined {
      const question = readText(row, questionColumn, log);
      const answer = readText(row, answerColumn, log, { emptyCode: 'EMPTY_ANSWER' });
      if (question === undefined || answer === undefined) return undefined;
      const final = extract(answer);
      if (final === undefined) {
        log.add('ANSWER_NOT_FOUND', at(row, answerColumn), `no final answer found in ${JSON.stringify(answer.length > 80 ? `…${answer.slice(-79)}` : answer)}`);
        return undefined;
      }
      const content = prompt.build(row, new Map([[QUESTION_PLACEHOLDER, question]]), log);
      if (content === undefined) return undefined;
      const turns: Turn[] = [];
      if (mapping.systemPrompt) turns.push({ role: 'system', content: mapping.systemPrompt, train: false });
      turns.push({ role: 'user', content, train: false }, { role: 'assistant', content: mapping.target === 'extracted' ? final : answer, train: true });
      return { kind: 'conversation', source: sourceOf(row), turns, expected: { kind: 'answer', answer: final }, typed: question };
    },
  };
}
