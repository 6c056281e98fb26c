/**
 * `cocktail import`: what the studio's Tasks page shows when a file is dropped on it — rows, columns,
 * the detected format and delimiter, and every problem the importer found — without mapping or training.
 */
import { openAsBlob } from 'node:fs';
import { basename, resolve } from 'node:path';
import { importFile, type ImportFileOptions } from '../data/import/import-file.ts';
import type { FileFormat } from '../data/import/types.ts';
import { formatValidationReport } from '../data/validate.ts';
import { CocktailError } from '../errors.ts';
import { parseOptions } from './args.ts';

export const IMPORT_USAGE = 'cocktail import --file <path> [--format jsonl|json|csv|parquet|text] [--delimiter C] [--header|--no-header] [--json]';

const FORMATS: readonly FileFormat[] = ['jsonl', 'json', 'csv', 'parquet', 'text'];

export async function importCommand(args: string[]): Promise<number> {
  const options = parseOptions('import', args, { file: 'string', format: 'string', delimiter: 'string', header: 'flag', 'no-header': 'flag', json: 'flag' }, ['file']);
  if (options.header && options['no-header']) throw new CocktailError('BAD_ARGUMENT', 'give --header or --no-header, not both');
  const format = options.format;
  if (format !== undefined && !FORMATS.includes(format as FileFormat)) {
    throw new CocktailError('BAD_ARGUMENT', `--format "${format}" is not one of ${FORMATS.join(', ')}`, { field: 'format' });
  }
  const path = resolve(options.file!);
  let blob: Blob;
  try {
    blob = await openAsBlob(path);
  } catch {
    throw new CocktailError('TASK_FILE_NOT_FOUND', `${path}: no such file`, { file: path });
  }
  const importOptions: ImportFileOptions = {
    fileName: basename(path),
    ...(format ? { format: format as FileFormat } : {}),
    ...(options.delimiter !== undefined ? { delimiter: unescapeDelimiter(options.delimiter) } : {}),
    ...(options.header ? { header: true } : options['no-header'] ? { header: false } : {}),
  };
  const { info, problems } = await importFile(blob, importOptions);
  const report = problems.report();
  if (options.json) {
    console.log(
      JSON.stringify({
        file: path,
        rows: info.rows,
        columns: info.columns,
        format: info.format,
        delimiter: info.delimiter ?? null,
        delimiterDetected: info.delimiterDetected ?? null,
        header: info.header ?? null,
        encoding: info.encoding ?? null,
        bytes: info.bytes,
        errors: report.kinds.filter((kind) => kind.severity === 'error'),
        warnings: report.kinds.filter((kind) => kind.severity === 'warning'),
        rowsWithErrors: report.rowsWithErrors,
      }),
    );
  } else {
    const delimiter = info.delimiter === undefined ? '' : `, delimiter ${JSON.stringify(info.delimiter)}${info.delimiterDetected ? ' (detected)' : ''}, ${info.header ? 'with' : 'no'} header`;
    console.log(`${path}: ${info.format}${delimiter}, ${info.rows} rows, ${info.columns.length} columns (${info.columns.join(', ')})`);
    console.log(report.errors + report.warnings === 0 ? 'no problems found' : formatValidationReport(report));
  }
  return 0;
}

/** A shell makes a tab hard to type: accept "\t" and "tab" for it. */
function unescapeDelimiter(value: string): string {
  return value === '\\t' || value === 'tab' ? '\t' : value;
}
