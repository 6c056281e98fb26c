import type { FormatMapping } from '../formats/mapping.ts';
import { mapRows } from '../formats/mapping.ts';
import type { RawRow } from '../import/types.ts';
import { ProblemLog } from '../validate.ts';

/** Rows as an importer would hand them over: row n on line n + 1 (after a header). */
export function rowsOf(...values: Record<string, unknown>[]): RawRow[] {
  return values.map((value, i) => ({ row: i + 1, line: i + 2, values: value }));
}

/** Maps rows and returns the examples, the summary and the report, with the file's columns known or not. */
export function mapForTest(rows: RawRow[], mapping: FormatMapping, columns?: readonly string[]) {
  const log = new ProblemLog('test.jsonl');
  const mapped = mapRows(rows, mapping, columns ? { log, columns } : { log });
  return { ...mapped, report: log.report(), log };
}
