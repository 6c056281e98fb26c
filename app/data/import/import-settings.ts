/**
 * How a task file is read, as the Tasks page's form holds it (ImportSettings) and as the importer
 * takes it (FileImportOptions). The options a file was imported with are stored with it, so every
 * later read of the same file (after a reload, from "Map columns", by training) reads it the same way.
 */
import type { FileFormat } from './types.ts';
import type { TextSplitting } from './text.ts';

export interface ImportSettings {
  /** One character, or '' to detect it (comma, tab, semicolon or bar). */
  delimiter: string;
  header: 'auto' | 'yes' | 'no';
  format: 'auto' | FileFormat;
  /** Used only with format 'text'. */
  splitting: TextSplitting;
}

/** The importer's options that a user chooses; what is left to detection is absent. */
export type FileImportOptions = {
  format?: FileFormat;
  splitting?: TextSplitting;
  delimiter?: string;
  header?: boolean;
};

export const DEFAULT_IMPORT_SETTINGS: ImportSettings = { delimiter: '', header: 'auto', format: 'auto', splitting: 'lines' };

/** The importer's options for these settings; what is left to detection (or is the importer's default) is left out. */
export function importOptions(settings: ImportSettings): FileImportOptions {
  return {
    ...(settings.format === 'auto' ? {} : { format: settings.format }),
    ...(settings.format === 'text' && settings.splitting !== DEFAULT_IMPORT_SETTINGS.splitting ? { splitting: settings.splitting } : {}),
    ...(settings.delimiter === '' ? {} : { delimiter: settings.delimiter }),
    ...(settings.header === 'auto' ? {} : { header: settings.header === 'yes' }),
  };
}

/** What the "datasets" store keeps beside an imported task file's bytes. */
/** A type, not an interface, so it is stored as JSON meta as it is. */
export type TaskFileMeta = {
  name: string;
  rows: number;
  /** The format it was read as (detected or chosen). */
  format: string;
  importedAt: number;
  /** The options it was imported with; absent in files imported before they were kept (read with detection). */
  options?: FileImportOptions;
};

/** The form's settings for importer options (the inverse of importOptions). */
export function settingsOfOptions(options: FileImportOptions): ImportSettings {
  return {
    delimiter: options.delimiter ?? '',
    header: options.header === undefined ? 'auto' : options.header ? 'yes' : 'no',
    format: options.format ?? 'auto',
    splitting: options.splitting ?? DEFAULT_IMPORT_SETTINGS.splitting,
  };
}
