/**
 * Validation that reports every problem at once. Importers and formats never throw on a bad row and
 * never skip one quietly: they add a Problem to a ProblemLog and go on. The log keeps exact counts per
 * kind and capped lists of where each kind happened, so a file with 50,000 bad rows gives a short
 * report with true totals. The caller then decides: refuse the file, drop the bad rows (and say how
 * many), or change the mapping and map again.
 */
import { DataError } from './errors.ts';

export type Severity = 'error' | 'warning';

/** Every kind of problem, with whether it makes the row unusable and what a person can do about it. */
export const PROBLEM_KINDS = {
  // Reading the file
  ENCODING_FALLBACK: { severity: 'warning', hint: 'The file is not valid UTF-8; check a few rows, or choose the encoding yourself.' },
  INVALID_UTF8: { severity: 'warning', hint: 'Bytes that are not UTF-8 were replaced with U+FFFD; re-save the file as UTF-8.' },
  BLANK_LINE: { severity: 'warning', hint: 'Blank lines hold no row and were skipped.' },
  BAD_JSON: { severity: 'error', hint: 'Fix the JSON at these lines, or drop these rows.' },
  NOT_AN_OBJECT: { severity: 'error', hint: 'Each row must be a JSON object of fields; fix these rows or drop them.' },
  TRUNCATED_FILE: { severity: 'warning', hint: 'The file ends before its closing bracket; it may be cut short. Every complete row before that point was read.' },
  TRAILING_CONTENT: { severity: 'error', hint: 'Remove what follows the end of the JSON value.' },
  UNCLOSED_QUOTE: { severity: 'error', hint: 'A quoted field never closes; add the closing quote, or turn quoting off if quotes are literal.' },
  STRAY_QUOTE: { severity: 'warning', hint: 'A quote inside an unquoted field was kept as a literal character; check these rows.' },
  RAGGED_ROW: { severity: 'error', hint: 'These rows have a different number of fields than the header; check the delimiter and quoting.' },
  DUPLICATE_COLUMN: { severity: 'warning', hint: 'Columns with the same name were renamed with a numeric suffix.' },
  MISSING_COLUMN: { severity: 'error', hint: 'Map the field to one of the columns the file has.' },
  // Mapping rows to a format
  MISSING_FIELD: { severity: 'error', hint: 'These rows lack a mapped field; fix the mapping or drop these rows.' },
  WRONG_TYPE: { severity: 'error', hint: 'The field holds a value of the wrong type; fix the mapping or drop these rows.' },
  EMPTY_FIELD: { severity: 'error', hint: 'The field is empty; fill it in or drop these rows.' },
  EMPTY_ANSWER: { severity: 'error', hint: 'There is nothing to learn from a row with an empty answer; fill it in or drop these rows.' },
  ANSWER_NOT_FOUND: { severity: 'error', hint: 'The answer extractor found no answer; change the extractor or drop these rows.' },
  UNKNOWN_ROLE: { severity: 'error', hint: 'Map this role name to system, user or assistant, or drop these rows.' },
  NO_ASSISTANT_TURN: { severity: 'error', hint: 'A conversation needs an assistant turn to learn from; drop these rows or fix the role mapping.' },
  LABEL_NOT_IN_SET: { severity: 'error', hint: 'Add the label to the label set (and the verbalizer), or drop these rows.' },
  BAD_TOKENS: { severity: 'error', hint: 'Token ids must be integers in [0, vocabulary size); labels may also be -100.' },
  LENGTH_MISMATCH: { severity: 'error', hint: 'input_ids and labels must have the same length.' },
  NO_TRAINABLE_TOKENS: { severity: 'error', hint: 'Every label is -100, so the row carries no loss; drop these rows.' },
} as const satisfies Record<string, { severity: Severity; hint: string }>;

export type ProblemCode = keyof typeof PROBLEM_KINDS;

/** Where a problem is. Lines and rows are 1-based; a problem with neither concerns the whole file. */
export interface ProblemLocation {
  /** Physical line of the file where the row starts. */
  line?: number;
  /** Index of the row among the file's rows (a CSV header is not a row; blank lines are not rows). */
  row?: number;
  field?: string;
}

export interface ProblemKindSummary {
  code: ProblemCode;
  severity: Severity;
  /** Exact number of occurrences. */
  count: number;
  /** The first rows (1-based) where it happened, at most `maxLocations`. */
  rows: number[];
  /** The first lines (1-based) where it happened, at most `maxLocations`. */
  lines: number[];
  /** The first messages, each naming the file, line, row and field. */
  messages: string[];
  hint: string;
}

/** Plain data (JSON and structured-clone safe): what the UI shows and `cocktail import --json` prints. */
export interface ValidationReport {
  fileName: string;
  errors: number;
  warnings: number;
  /** Distinct rows with at least one error. */
  rowsWithErrors: number;
  /** True when an error concerns the whole file rather than rows, so dropping rows cannot fix it. */
  fileErrors: boolean;
  kinds: ProblemKindSummary[];
}

export interface ProblemLogOptions {
  /** How many rows and lines each kind lists; counts are always exact. Default 20. */
  maxLocations?: number;
  /** How many full messages each kind keeps. Default 5. */
  maxMessages?: number;
}

/** A ProblemLog as plain JSON (ProblemLog.toJSON / fromJSON). */
export interface ProblemLogState {
  fileName: string;
  maxLocations: number;
  maxMessages: number;
  kinds: ProblemKindSummary[];
  badRows: number[];
  fileLevelErrors: number;
}

export class ProblemLog {
  readonly fileName: string;
  private readonly maxLocations: number;
  private readonly maxMessages: number;
  private readonly kinds = new Map<ProblemCode, ProblemKindSummary>();
  private readonly badRows = new Set<number>();
  private fileLevelErrors = 0;

  constructor(fileName: string, options: ProblemLogOptions = {}) {
    this.fileName = fileName;
    this.maxLocations = options.maxLocations ?? 20;
    this.maxMessages = options.maxMessages ?? 5;
  }

  /**
   * An independent log holding what this one holds so far. Map each attempt into a copy of the import's
   * log, so that fixing the mapping and mapping again does not keep the first attempt's problems.
   */
  copy(): ProblemLog {
    const copy = new ProblemLog(this.fileName, { maxLocations: this.maxLocations, maxMessages: this.maxMessages });
    for (const [code, kind] of this.kinds) copy.kinds.set(code, { ...kind, rows: [...kind.rows], lines: [...kind.lines], messages: [...kind.messages] });
    for (const row of this.badRows) copy.badRows.add(row);
    copy.fileLevelErrors = this.fileLevelErrors;
    return copy;
  }

  /** Everything the log holds, as plain JSON (to cache an import together with its problems). */
  toJSON(): ProblemLogState {
    return {
      fileName: this.fileName,
      maxLocations: this.maxLocations,
      maxMessages: this.maxMessages,
      kinds: [...this.kinds.values()].map((kind) => ({ ...kind, rows: [...kind.rows], lines: [...kind.lines], messages: [...kind.messages] })),
      badRows: [...this.badRows],
      fileLevelErrors: this.fileLevelErrors,
    };
  }

  static fromJSON(state: ProblemLogState): ProblemLog {
    const log = new ProblemLog(state.fileName, { maxLocations: state.maxLocations, maxMessages: state.maxMessages });
    for (const kind of state.kinds) log.kinds.set(kind.code, { ...kind, rows: [...kind.rows], lines: [...kind.lines], messages: [...kind.messages] });
    for (const row of state.badRows) log.badRows.add(row);
    log.fileLevelErrors = state.fileLevelErrors;
    return log;
  }

  /** Records one problem; `detail` says what is wrong, the location prefix is added here. */
  add(code: ProblemCode, at: ProblemLocation, detail: string): void {
    const { severity, hint } = PROBLEM_KINDS[code];
    let kind = this.kinds.get(code);
    if (!kind) {
      kind = { code, severity, count: 0, rows: [], lines: [], messages: [], hint };
      this.kinds.set(code, kind);
    }
    kind.count++;
    if (at.row !== undefined && kind.rows.length < this.maxLocations) kind.rows.push(at.row);
    if (at.line !== undefined && kind.lines.length < this.maxLocations) kind.lines.push(at.line);
    if (kind.messages.length < this.maxMessages) kind.messages.push(`${describeLocation(this.fileName, at)}: ${detail}`);
    if (severity === 'error') {
      if (at.row !== undefined) this.badRows.add(at.row);
      else this.fileLevelErrors++;
    }
  }

  count(code: ProblemCode): number {
    return this.kinds.get(code)?.count ?? 0;
  }

  get errorCount(): number {
    return this.sum('error');
  }

  get warningCount(): number {
    return this.sum('warning');
  }

  /** Every row with at least one error: exact, not capped, so dropping them drops all of them. */
  rowsWithErrors(): ReadonlySet<number> {
    return this.badRows;
  }

  get hasFileErrors(): boolean {
    return this.fileLevelErrors > 0;
  }

  report(): ValidationReport {
    const kinds = [...this.kinds.values()]
      .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.count - a.count)
      .map((kind) => ({ ...kind, rows: [...kind.rows], lines: [...kind.lines], messages: [...kind.messages] }));
    return {
      fileName: this.fileName,
      errors: this.errorCount,
      warnings: this.warningCount,
      rowsWithErrors: this.badRows.size,
      fileErrors: this.hasFileErrors,
      kinds,
    };
  }

  private sum(severity: Severity): number {
    let total = 0;
    for (const kind of this.kinds.values()) if (kind.severity === severity) total += kind.count;
    return total;
  }
}

function severityRank(severity: Severity): number {
  return severity === 'error' ? 0 : 1;
}

/** "sent_train.csv, line 7 (row 6), field "label"" — the prefix of every problem message. */
export function describeLocation(fileName: string, at: ProblemLocation): string {
  const parts = [fileName];
  if (at.line !== undefined && at.row !== undefined) parts.push(`line ${at.line} (row ${at.row})`);
  else if (at.line !== undefined) parts.push(`line ${at.line}`);
  else if (at.row !== undefined) parts.push(`row ${at.row}`);
  if (at.field !== undefined) parts.push(`field "${at.field}"`);
  return parts.join(', ');
}

/** The report as text for people (the CLI prints this): every kind, its count, where, and what to do. */
export function formatValidationReport(report: ValidationReport): string {
  if (report.kinds.length === 0) return `${report.fileName}: no problems found.`;
  const lines = [
    `${report.fileName}: ${report.errors} error(s) in ${report.rowsWithErrors} row(s), ${report.warnings} warning(s).`,
  ];
  for (const kind of report.kinds) {
    lines.push(`  ${kind.severity} ${kind.code} x${kind.count}: ${kind.hint}`);
    if (kind.rows.length > 0) lines.push(`    rows: ${listWithMore(kind.rows, kind.count)}`);
    else if (kind.lines.length > 0) lines.push(`    lines: ${listWithMore(kind.lines, kind.count)}`);
    for (const message of kind.messages) lines.push(`    ${message}`);
  }
  return lines.join('\n');
}

function listWithMore(numbers: readonly number[], total: number): string {
  const more = total - numbers.length;
  return numbers.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** What to do with rows that have errors: refuse the whole file, or leave those rows out and say so. */
export type BadRowPolicy = 'refuse' | 'drop';

export interface KeptExamples<T> {
  examples: T[];
  /** Distinct rows left out because they had errors (including rows that never became an example). */
  droppedRows: number;
  report: ValidationReport;
}

/**
 * Applies the caller's choice. `refuse` throws DATA_INVALID_ROWS when any row has an error; `drop`
 * keeps the examples whose row had none and counts the rest. An error about the whole file (a missing
 * column, a truncated file) cannot be fixed by dropping rows, so both policies refuse it.
 */
export function applyBadRowPolicy<T extends { source: { row: number } }>(
  examples: readonly T[],
  log: ProblemLog,
  policy: BadRowPolicy,
): KeptExamples<T> {
  const report = log.report();
  if (log.hasFileErrors || (policy === 'refuse' && log.errorCount > 0)) {
    throw new DataError('DATA_INVALID_ROWS', formatValidationReport(report), { report });
  }
  const bad = log.rowsWithErrors();
  const kept = examples.filter((example) => !bad.has(example.source.row));
  if (kept.length === 0) {
    throw new DataError('DATA_NO_EXAMPLES', `${log.fileName}: no usable rows are left.\n${formatValidationReport(report)}`, { report });
  }
  return { examples: kept, droppedRows: bad.size, report };
}
