/**
 * data.import inside the engine worker: reads a task file the user chose (streaming, with progress,
 * cancellable), reports what it found and every problem, and keeps the file's bytes in the "datasets"
 * store under `file/<name>`, where recipes name it. Nothing the user already imported is touched
 * unless the same name is imported again.
 */
import { importFile, type ImportFileOptions } from '../app/data/import/import-file.ts';
import type { ImportProgress } from '../app/data/import/types.ts';
import type { Storage } from '../app/store/storage.ts';
import type { DataImportResult } from './protocol.ts';
import { TASK_FILE_PREFIX } from './protocol.ts';

export const PREVIEW_ROWS = 20;

export async function importTaskFile(
  request: { name: string; file: Blob; options?: Pick<ImportFileOptions, 'format' | 'delimiter' | 'header' | 'splitting'> },
  storage: Storage,
  signal: AbortSignal,
  progress: (progress: ImportProgress) => void,
): Promise<DataImportResult> {
  const imported = await importFile(request.file, { ...request.options, fileName: request.name, signal, onProgress: progress });
  const bytes = new Uint8Array(await request.file.arrayBuffer());
  const report = imported.problems.report();
  await storage.put('datasets', `${TASK_FILE_PREFIX}${request.name}`, { name: request.name, rows: imported.rows.length, format: imported.info.format, importedAt: Date.now() }, bytes);
  return {
    name: request.name,
    rows: imported.rows.length,
    columns: [...imported.info.columns],
    format: imported.info.format,
    preview: imported.rows.slice(0, PREVIEW_ROWS).map((row) => ({ row: row.row, values: row.values as Record<string, unknown> })),
    report,
  };
}
