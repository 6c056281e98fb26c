/**
 * data.tokenView inside the engine worker: one task of the recipe prepared exactly as training
 * prepares it (a one-task recipe through prepareTasks, so mapping, dropped rows, split, template,
 * truncation and loss masks are the trainer's, and the tokenization is cached for the run), then the
 * first examples of the file as token-view entries, the rows that were skipped and why, and the task's
 * statistics. Problems come back as the preparation's own errors, naming the task, the file and the field.
 */
import { tokenView } from '../app/data/tokenize/token-view.ts';
import { tokenizerIdentity } from '../app/data/tokenize/tokenizer-identity.ts';
import type { TokenizeReport } from '../app/data/tokenize/tokenize-task.ts';
import type { ValidationReport } from '../app/data/validate.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { readJsonFile, type ModelFiles } from '../app/model/source.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import type { Storage } from '../app/store/storage.ts';
import { clampToContext } from '../app/train/context-length.ts';
import { prepareTasks, type PrepareProgress } from '../app/train/prepare.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import type { TokenViewRequest, TokenViewResult } from './protocol.ts';
import { openTaskFile } from './studio-env.ts';
import { everyInterval, PROGRESS_INTERVAL_MS } from './progress.ts';


/** Skipped rows listed at most (the validation report keeps exact counts; this is for showing). */
export const MAX_SKIPPED_ROWS = 50;

export async function tokenViewInStudio(
  request: TokenViewRequest,
  files: ModelFiles,
  storage: Storage,
  signal: AbortSignal,
  progress: (progress: PrepareProgress) => void,
): Promise<TokenViewResult> {
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  const tokenizer = await loadTokenizer(files, config);
  // Counted as a run counts them: at max_length clamped to the model's context (app/train/context-length.ts).
  const { recipe, notice } = clampToContext(
    parseRecipe(
      {
        model: { source: request.source, revision: request.revision },
        tasks: [request.task],
        max_length: request.maxLength,
        train_on_prompts: request.trainOnPrompts,
        seed: request.seed ?? 0,
        steps: 1,
      },
      `task "${request.task.name}"`,
    ),
    config.maxPositionEmbeddings,
  );
  const { tasks, reports } = await prepareTasks(recipe, {
    tokenizer,
    openFile: (path) => openTaskFile(storage, path),
    storage,
    tokenizerIdentity: await tokenizerIdentity(files),
    ...(request.hubEndpoint ? { hubEndpoint: request.hubEndpoint } : {}),
    ...(request.hubToken ? { hubAccessToken: request.hubToken } : {}),
    signal,
    onProgress: everyInterval(PROGRESS_INTERVAL_MS, progress),
  });
  const task = tasks[0]!;
  const report = reports[0]!;
  const sameFile = report.sources.length === 1;
  const shown = [...task.train, ...(sameFile ? task.validation : [])].sort((a, b) => a.source.row - b.source.row).slice(0, Math.max(0, request.examples));
  return {
    examples: shown.map((example) => {
      const tokens = tokenView(example, tokenizer);
      return { row: example.source.row, tokens, trained: tokens.filter((token) => token.trained).length, truncated: example.truncatedTokens > 0 };
    }),
    maxLength: recipe.max_length,
    ...(notice ? { contextNotice: notice } : {}),
    skipped: skippedRows(report.sources[0]!.validation, [report.tokenize.train, ...(sameFile ? [report.tokenize.validation] : [])], recipe.max_length),
    stats: {
      rows: report.rows,
      examples: task.train.length,
      validation: task.validation.length,
      meanTokens: report.statistics.meanTokensPerExample,
      meanTrainedTokens: report.statistics.meanTrainedTokensPerExample,
    },
  };
}

/** Rows the format dropped (with the problem's message) and rows left with no token to learn from. */
function skippedRows(validation: ValidationReport, tokenized: readonly TokenizeReport[], maxLength: number): TokenViewResult['skipped'] {
  const reasons = new Map<number, string>();
  for (const kind of validation.kinds) {
    if (kind.severity !== 'error') continue;
    kind.rows.forEach((row, index) => {
      if (!reasons.has(row)) reasons.set(row, kind.messages[index] ?? `${kind.code}: ${kind.hint}`);
    });
  }
  for (const report of tokenized) {
    for (const row of report.untrained.rows) {
      if (!reasons.has(row)) reasons.set(row, `no token carries loss within max_length ${maxLength} (the answer was cut off or is empty)`);
    }
  }
  return [...reasons.entries()]
    .sort((a, b) => a[0] - b[0])
    .slice(0, MAX_SKIPPED_ROWS)
    .map(([row, reason]) => ({ row, reason }));
}
