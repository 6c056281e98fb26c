import { CocktailError } from '../errors.ts';

export type DataErrorCode =
  | 'DATA_UNREADABLE' // the file cannot be parsed at all (not Parquet, JSON that is neither an array nor an object, ...)
  | 'DATA_EMPTY' // the file holds no bytes, or only blank space
  | 'DATA_BINARY' // a text format was given (or named) but the bytes are binary: NUL bytes, a zip, PDF or Parquet signature
  | 'DATA_CANCELLED' // the caller's AbortSignal fired
  | 'DATA_BAD_MAPPING' // the column mapping or a template is malformed (found before any row is read)
  | 'DATA_INVALID_ROWS' // the caller asked to refuse bad rows, and there were some
  | 'DATA_NO_EXAMPLES' // nothing usable is left
  | 'DATA_BAD_SPLIT' // split fractions or split names that do not make sense
  | 'HUB_REQUEST_FAILED'; // the Hub (or the configured endpoint) answered with an error, or not at all

/**
 * A failure of the data pipeline as a whole. Problems with single rows are not thrown: they go to a
 * ProblemLog (validate.ts) so that every one of them can be reported at once.
 */
export class DataError extends CocktailError {
  declare readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** Throws DATA_CANCELLED when the signal has fired; called between chunks, rows and row groups. */
export function throwIfCancelled(signal: AbortSignal | undefined, fileName: string): void {
  if (signal?.aborted) {
    throw new DataError('DATA_CANCELLED', `Import of ${fileName} was cancelled.`, { fileName });
  }
}
