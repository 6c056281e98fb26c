/**
 * data.import inside the engine worker: reads a task file the user chose (streaming, with progress,
 * cancellable), reports what it found and every problem, and keeps the file's bytes in the "datasets"
 * store under `file/<name>`, where recipes name it. Nothing the user already imported is touched
 * unless the same name is imported again.
 *
 * data.hubPreview does the same for a Hub data set's split: it is downloaded into storage (once:
 * training reads the same copy, offline too) and read whole, so the Tasks page can show its rows,
 * columns and problems before the task is mapped.
 */
import { hubSplitName, readParquetShards, storedHubSplit } from '../app/data/index.ts';
import { importFile } from '../app/data/import/import-file.ts';
import type { FileImportOptions, TaskFileMeta } from '../app/data/import/import-settings.ts';
import { collectRows, type ImportProgress, type ImportInfo, type RawRow } from '../app/data/import/types.ts';
import { ProblemLog } from '../app/data/validate.ts';
import type { Storage } from '../app/store/storage.ts';
import { labelColumnValues, rowsWithErrors } from '../app/data/import/label-columns.ts';
import { TASK_FILE_PREFIX } from '../app/store/keys.ts';
import type { DataImportResult, HubSettings, HubSplitRef } from './protocol.ts';

export const PREVIEW_ROWS = 20;

export async function importTaskFile(
  request: { name: string; file: Blob; options?: FileImportOptions },
  storage: Storage,
  signal: AbortSignal,
  progress: (progress: ImportProgress) => void,
): Promise<DataImportResult> {
  const imported = await importFile(request.file, { ...request.options, fileName: request.name, signal, onProgress: progress });
  const bytes = new Uint8Array(await request.file.arrayBuffer());
  // The options travel with the file: every later read (Map columns after a reload, training) reads it the same way.
  const meta: TaskFileMeta = { name: request.name, rows: imported.rows.length, format: imported.info.format, importedAt: Date.now(), options: request.options ?? {} };
  await storage.put('datasets', `${TASK_FILE_PREFIX}${request.name}`, meta, bytes);
  return importResult(request.name, imported.rows, imported.info, imported.problems);
}

export async function previewHubSplit(
  request: HubSplitRef & HubSettings,
  storage: Storage,
  signal: AbortSignal,
  progress: (progress: { loaded: number; total: number }) => void,
): Promise<DataImportResult> {
  const ref = { repo: request.hub, config: request.config, split: request.split, ...(request.hubEndpoint ? { endpoint: request.hubEndpoint } : {}) };
  const name = hubSplitName(ref);
  const shards = await storedHubSplit(ref, { storage, signal, ...(request.hubToken ? { accessToken: request.hubToken } : {}), onProgress: (loaded, total) => progress({ loaded, total }) });
  const problems = new ProblemLog(name);
  const { rows, info } = await collectRows(readParquetShards(shards, name, { problems, signal }));
  return importResult(name, rows, info, problems);
}

function importResult(name: string, rows: readonly RawRow[], info: ImportInfo, problems: ProblemLog): DataImportResult {
  const report = problems.report();
  const previewRow = (row: RawRow) => ({ row: row.row, values: row.values as Record<string, unknown> });
  return {
    name,
    rows: rows.length,
    columns: [...info.columns],
    format: info.format,
    preview: rows.slice(0, PREVIEW_ROWS).map(previewRow),
    labelValues: labelColumnValues(rows, info.columns, rowsWithErrors(report)),
    report,
  };
}
