/**
 * Guessing a delimited file's dialect from its first records, in the manner of Python's csv.Sniffer
 * but with the real parser: the delimiter is the candidate that splits the sample records into the
 * same number of fields most consistently (quotes, and line breaks inside quotes, are handled because
 * the sample is really parsed); the first record is a header when its fields look unlike the data
 * below them. Both guesses can be overridden, and the result says which were guessed.
 */
import { DelimitedParser, type DelimitedDialect } from './delimited-parser.ts';

export const DELIMITER_CANDIDATES = [',', '\t', ';', '|'] as const;

const SAMPLE_RECORDS = 100;

/** Non-blank records of a sample; the last is left out when the sample may have cut it short. */
export function sampleRecords(head: string, dialect: DelimitedDialect, complete: boolean): string[][] {
  const parser = new DelimitedParser(dialect);
  const parsed = parser.push(head);
  if (complete) parsed.push(...parser.end());
  const records = parsed.filter((record) => !record.blank).map((record) => record.fields);
  return records.slice(0, SAMPLE_RECORDS);
}

export interface DelimiterGuess {
  delimiter: string;
  /** The number of fields most sample records have. */
  fieldCount: number;
  /** Share of sample records with that number of fields. */
  consistency: number;
}

/** Field-count statistics of the sample under one delimiter. */
export function measureDelimiter(head: string, delimiter: string, quote: string | null, complete: boolean): DelimiterGuess {
  const records = sampleRecords(head, { delimiter, quote }, complete);
  const counts = new Map<number, number>();
  for (const record of records) counts.set(record.length, (counts.get(record.length) ?? 0) + 1);
  let fieldCount = 1;
  let best = 0;
  for (const [count, frequency] of counts) {
    if (frequency > best || (frequency === best && count > fieldCount)) {
      fieldCount = count;
      best = frequency;
    }
  }
  return { delimiter, fieldCount, consistency: records.length === 0 ? 0 : best / records.length };
}

/**
 * The most consistent candidate that yields at least two fields; `preferred` (from the file name, say
 * ".tsv") comes first on ties. With no such candidate the file is one column under `preferred`.
 */
export function detectDelimiter(head: string, quote: string | null, complete: boolean, preferred = ','): DelimiterGuess {
  const candidates = [preferred, ...DELIMITER_CANDIDATES.filter((c) => c !== preferred)];
  let best: DelimiterGuess | undefined;
  for (const delimiter of candidates) {
    const guess = measureDelimiter(head, delimiter, quote, complete);
    if (guess.fieldCount < 2) continue;
    if (!best || guess.consistency > best.consistency + 1e-9) best = guess;
  }
  return best ?? { ...measureDelimiter(head, preferred, quote, complete), delimiter: preferred };
}

/**
 * Votes, column by column, on whether the first record names the columns: a numeric column under a
 * non-numeric first value, a name-like first value over sentence-like data, or a fixed-width column
 * under a first value of another width vote for a header; a first value that also occurs in the data,
 * or that looks like the data, votes against. Ties count as a header, which most files have.
 */
export function detectHeader(records: readonly (readonly string[])[]): boolean {
  const first = records[0];
  if (!first) return false;
  const rest = records.slice(1);
  if (rest.length === 0) return first.every(looksLikeColumnName);
  const names = first.map((name) => name.trim());
  if (new Set(names).size !== names.length) return false;
  let votes = 0;
  for (let column = 0; column < first.length; column++) {
    const head = names[column]!;
    const values = rest.map((record) => record[column]).filter((value): value is string => value !== undefined && value.trim() !== '');
    if (values.length === 0) continue;
    if (values.every(isNumeric)) {
      votes += isNumeric(head) ? -1 : 1;
      continue;
    }
    if (values.some((value) => value.trim() === head)) {
      votes -= 1;
      continue;
    }
    const nameLike = values.filter(looksLikeColumnName).length / values.length;
    if (looksLikeColumnName(head)) votes += nameLike < 0.5 ? 1 : 0;
    else votes -= nameLike < 0.5 ? 1 : 0;
    const widths = new Set(values.map((value) => value.length));
    if (widths.size === 1) votes += widths.has(head.length) ? -1 : 1;
  }
  return votes >= 0;
}

function isNumeric(value: string): boolean {
  const trimmed = value.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed));
}

/** "label", "input_ids", "Sentence", "question id": short, a few words, not a sentence. */
function looksLikeColumnName(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.length > 40 || isNumeric(trimmed)) return false;
  if (trimmed.split(/\s+/).length > 4) return false;
  return /^[\p{L}_][\p{L}\p{N}_ .\-/()#]*$/u.test(trimmed) && !/[.!?]$/.test(trimmed);
}
