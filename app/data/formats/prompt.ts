/**
 * A prompt built from a template and a row: the format supplies the values it owns (`{text}`,
 * `{labels}`, `{question}`), and any other placeholder is read from the row's column of that name.
 * The column holding the answer may not appear, since the prompt would then give the answer away.
 */
import { DataError } from '../errors.ts';
import type { RawRow } from '../import/types.ts';
import type { ProblemLog } from '../validate.ts';
import { readText } from './fields.ts';
import { parsePromptTemplate, renderPromptTemplate, type PromptTemplate } from './placeholders.ts';

export interface PromptBuilder {
  readonly template: PromptTemplate;
  /** Placeholders read from row columns (not supplied by the format). */
  readonly columns: readonly string[];
  build(row: RawRow, supplied: ReadonlyMap<string, string>, log: ProblemLog): string | undefined;
}

export function createPromptBuilder(source: string, supplied: readonly string[], answerColumn: string, what: string): PromptBuilder {
  const template = parsePromptTemplate(source, what);
  if (template.fields.includes(answerColumn) && !supplied.includes(answerColumn)) {
    throw new DataError('DATA_BAD_MAPPING', `The ${what} ${JSON.stringify(source)} shows the answer column "${answerColumn}", which would give the answer away.`, {
      template: source,
    });
  }
  const columns = template.fields.filter((field) => !supplied.includes(field));
  return {
    template,
    columns,
    build(row, values, log) {
      const filled = new Map(values);
      for (const column of columns) {
        const text = readText(row, column, log, { allowEmpty: true });
        if (text === undefined) return undefined;
        filled.set(column, text);
      }
      return renderPromptTemplate(template, filled);
    },
  };
}
