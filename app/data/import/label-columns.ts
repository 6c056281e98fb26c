/**
 * What an imported file's rows say about its columns, computed by the importer over every row and
 * used by the Tasks page's mapping form: which rows have errors (their cells may be shifted), and
 * which columns hold few, short values that look like labels.
 */
import type { ValidationReport } from '../validate.ts';

export interface PreviewRow {
  row: number;
  values: Record<string, unknown>;
}

/** Most labels are a short word or number, and a file has only a handful of distinct ones. */
export const MAX_LABEL_LENGTH = 24;
export const MAX_LABELS = 20;

/** The rows the report lists under an error (each kind lists its first rows): training leaves them out. */
export function rowsWithErrors(report: ValidationReport): Set<number> {
  return new Set(report.kinds.filter((kind) => kind.severity === 'error').flatMap((kind) => kind.rows));
}

/**
 * For each column that looks like labels over all of a file's rows — at most MAX_LABELS distinct
 * values, none longer than MAX_LABEL_LENGTH — its distinct values. Computed over every row (skipping
 * rows with errors, whose cells may be shifted), so the label words a form suggests list every label,
 * not only those of the first rows.
 */
export function labelColumnValues(rows: readonly PreviewRow[], columns: readonly string[], skipRows: ReadonlySet<number> = new Set()): Record<string, string[]> {
  const seen = new Map(columns.map((column) => [column, new Set<string>()]));
  for (const row of rows) {
    if (skipRows.has(row.row)) continue;
    for (const [column, values] of seen) {
      const value = row.values[column];
      if (value === undefined || value === null) continue;
      const text = typeof value === 'object' ? undefined : String(value).trim();
      if (text === undefined || text.length > MAX_LABEL_LENGTH) seen.delete(column);
      else if (values.add(text).size > MAX_LABELS) seen.delete(column);
    }
  }
  return Object.fromEntries([...seen].filter(([, values]) => values.size > 0).map(([column, values]) => [column, [...values]]));
}
