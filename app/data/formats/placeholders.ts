/**
 * Prompt templates with `{name}` placeholders, such as "Sentiment of: {text}\nAnswer:". A name is a
 * mapped field (`{text}`, `{question}`), a special value (`{labels}`), or any column of the row.
 * `{{` and `}}` are literal braces. A template is parsed once, when the mapping is made, so a malformed
 * one is refused before any row is read.
 */
import { DataError } from '../errors.ts';

export type TemplatePart = { readonly literal: string } | { readonly field: string };

export interface PromptTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** Every placeholder name, once each, in order. */
  readonly fields: readonly string[];
}

export function parsePromptTemplate(source: string, what = 'template'): PromptTemplate {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if ((c === '{' || c === '}') && source[i + 1] === c) {
      literal += c;
      i += 2;
      continue;
    }
    if (c === '}') throw badTemplate(source, what, `a "}" at position ${i + 1} closes nothing (write "}}" for a literal brace)`);
    if (c !== '{') {
      literal += c;
      i++;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    if (close === -1) throw badTemplate(source, what, `the "{" at position ${i + 1} is never closed (write "{{" for a literal brace)`);
    const name = source.slice(i + 1, close).trim();
    if (name === '' || name.includes('{')) throw badTemplate(source, what, `the placeholder at position ${i + 1} has no valid name`);
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ field: name });
    i = close + 1;
  }
  if (literal) parts.push({ literal });
  const fields = [...new Set(parts.flatMap((part) => ('field' in part ? [part.field] : [])))];
  return { source, parts, fields };
}

/** Fills the placeholders from `values`, which the caller has filled for every name of the template. */
export function renderPromptTemplate(template: PromptTemplate, values: ReadonlyMap<string, string>): string {
  return template.parts.map((part) => ('literal' in part ? part.literal : (values.get(part.field) ?? ''))).join('');
}

function badTemplate(source: string, what: string, reason: string): DataError {
  return new DataError('DATA_BAD_MAPPING', `The ${what} ${JSON.stringify(source)} is malformed: ${reason}.`, { template: source });
}
