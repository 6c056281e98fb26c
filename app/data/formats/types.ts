import type { Example } from '../example.ts';
import type { RawRow } from '../import/types.ts';

/** What each format provides: the mapping of one row, and for classification its label set. */
export interface FormatMapper {
  /** The row's example, or undefined when the row has problems (each of them is in the log). */
  map(row: RawRow): Example | undefined;
  labels?(): LabelSet;
}

/** Maps rows one at a time, so a mapping can run while a file streams in. */
export interface RowMapper {
  /** The row's example, or undefined when the row has problems (each of them is in the log). */
  map(row: RawRow): Example | undefined;
  summary(): MappingSummary;
}

export interface LabelSet {
  /** Labels as written in the file ("0", "negative"), in the order given, or sorted when inferred. */
  labels: string[];
  /** The word the model is taught for each label (the verbalizer's, else the label itself). */
  words: string[];
  /** Rows per label. */
  counts: number[];
  /** True when no label set was given and it was gathered from the rows. */
  inferred: boolean;
}

export interface MappingSummary {
  format: string;
  rows: number;
  examples: number;
  /** Classification only. */
  labels?: LabelSet;
}
