/**
 * The data pipeline's public surface: import a file (or a Hub split), map its rows to examples,
 * validate, split. See README.md in this folder for how the pieces fit.
 */
export { DataError, type DataErrorCode } from './errors.ts';
export * from './example.ts';
export { applyBadRowPolicy, describeLocation, formatValidationReport, PROBLEM_KINDS, ProblemLog } from './validate.ts';
export type { BadRowPolicy, KeptExamples, ProblemCode, ProblemKindSummary, ProblemLocation, Severity, ValidationReport } from './validate.ts';

export { collectRows } from './import/types.ts';
export type { DataSource, FileFormat, ImportInfo, ImportOptions, ImportProgress, RawRow, RowGenerator, TextEncodingName } from './import/types.ts';
export { importFile, openRowStream, type ImportedFile, type ImportFileOptions } from './import/import-file.ts';
export { detectFileFormat } from './import/detect.ts';
export { readJsonlRows } from './import/jsonl.ts';
export { readJsonRows, type JsonImportOptions } from './import/json.ts';
export { readCsvRows, type CsvImportOptions } from './import/csv.ts';
export { readTextRows, type TextImportOptions, type TextSplitting } from './import/text.ts';
export { readParquetRows, type ParquetImportOptions, type ParquetSource } from './import/parquet.ts';
export {
  HUB_ENDPOINT,
  PARQUET_REVISION,
  hubParquetFileUrl,
  hubParquetListUrl,
  listHubParquetFiles,
  readHubDatasetRows,
  readParquetShards,
  hubSplitName,
  type FetchLike,
  type HubDatasetRef,
  type HubImportOptions,
} from './import/hub.ts';
export { HUB_DATASET_PREFIX, hubSplitKey, storedHubSplit, type StoreSplitOptions } from './import/hub-store.ts';

export { createRowMapper, mapRows, suggestMapping, FORMAT_NAMES, type FormatMapping, type FormatName, type MappedRows } from './formats/mapping.ts';
export type { LabelSet, MappingSummary, RowMapper } from './formats/types.ts';
export type { MapContext } from './formats/fields.ts';
export type { InstructionMapping } from './formats/instruction.ts';
export { DEFAULT_ROLE_NAMES, type ChatMapping, type MessageStyle } from './formats/chat.ts';
export type { PromptCompletionMapping } from './formats/prompt-completion.ts';
export type { TextMapping } from './formats/text.ts';
export type { ClassificationMapping } from './formats/classification.ts';
export { GSM8K_EXTRACTOR, compileExtractor, type AnswerExtractor, type QuestionAnswerMapping } from './formats/question-answer.ts';
export type { TokensMapping } from './formats/tokens.ts';

export { fileSplits, labelOf, normalizeSplitName, splitSeeded, SPLIT_NAMES, type SeededSplitOptions, type SplitName, type Splits } from './split.ts';
export { deduplicate, deduplicateSplits, exampleContentKey, normalizeForDuplicates, type DuplicateReport, type SplitsDuplicateReport } from './dedupe.ts';
