import type { StateCreator } from 'zustand';
import type { ImportProgress } from '../../data/import/types.ts';
import { CocktailError, toErrorReport, type ErrorReport } from '../../errors.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import type { PrepareProgress } from '../../train/prepare.ts';
import { DEFAULT_IMPORT_SETTINGS, importOptions, settingsOfOptions, type ImportSettings, type TaskFileMeta } from '../../data/import/import-settings.ts';
import { canonicalJson, type RecipeTask } from '../../train/recipe.ts';
import type { DataImportResult, HubSplitRef, TaskStats, TokenViewRequest, TokenViewResult } from '../../../workers/protocol.ts';
import { TASK_FILE_PREFIX } from '../../store/keys.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';


/**
 * The Tasks page's state: importing task files into storage (with progress, cancel and the
 * validation report), the files imported so far (read from storage, so they survive a reload), the
 * token view of a task, and each task's statistics as training would prepare it (the Mixture page
 * reads `taskStats` for expected tokens per task).
 */
export interface TasksSlice {
  /** How the next file is read; changing them after an import reads that file again. */
  importSettings: ImportSettings;
  taskImport: TaskImportState;
  importedFiles: { status: 'idle' | 'loading' | 'ready' | 'failed'; files: ImportedFileSummary[]; error?: ErrorReport };
  /** Per task name: the whole task prepared as training prepares it. */
  taskStats: Record<string, TaskStats>;
  tokenView?: TokenViewState;
  setImportSettings(settings: Partial<ImportSettings>): void;
  /** Imports a file the user picked or dropped into storage as `file/<name>`. */
  importTaskFile(file: File): Promise<void>;
  /**
   * Reads an imported file again from storage (after a reload, or with other settings). Without
   * settings it is read as it was imported (the options stored with it), so a reload changes nothing.
   */
  reopenImportedFile(name: string, settings?: ImportSettings): Promise<void>;
  cancelTaskImport(): void;
  /** A Hub data set's split, downloaded into storage and read for the Hub task form. */
  hubPreview: HubPreviewState;
  previewHubSplit(ref: HubSplitRef): Promise<void>;
  cancelHubPreview(): void;
  clearTaskImport(): void;
  refreshImportedFiles(): Promise<void>;
  /** Tokenizes a task's first examples as training would (its source must be an imported file). */
  showTokenView(taskName: string): Promise<void>;
  /**
   * The task's statistics, fetched through data.tokenView when missing or made for another recipe. A
   * Hub task's data set is downloaded into storage first (once; training reads the same copy).
   */
  loadTaskStats(taskName: string, options?: { onProgress?: (progress: PrepareProgress) => void; signal?: AbortSignal }): Promise<TaskStats | undefined>;
}

export interface TaskImportState {
  status: 'idle' | 'importing' | 'done' | 'failed' | 'cancelled';
  fileName?: string;
  progress?: ImportProgress;
  result?: DataImportResult;
  /** The settings the result was read with: the recipe's source repeats them so training reads the file the same way. */
  settings?: ImportSettings;
  error?: ErrorReport;
}

export interface HubPreviewState {
  status: 'idle' | 'loading' | 'done' | 'failed' | 'cancelled';
  /** The split asked for last; a result is for this split only. */
  ref?: HubSplitRef;
  progress?: { loaded: number; total: number };
  result?: DataImportResult;
  error?: ErrorReport;
}

export interface ImportedFileSummary {
  name: string;
  rows: number;
  format: string;
  importedAt: number;
  bytes: number;
  /** How it was imported; absent for files imported before the options were kept with them. */
  settings?: ImportSettings;
}

export interface TokenViewState {
  task: string;
  status: 'loading' | 'done' | 'failed';
  progress?: PrepareProgress;
  examples?: TokenViewResult['examples'];
  /** The max_length the examples were cut at (the recipe's, clamped to the model's context). */
  maxLength?: number;
  skipped?: TokenViewResult['skipped'];
  error?: ErrorReport;
}

/** How many examples the token view shows. */
export const TOKEN_VIEW_EXAMPLES = 3;

function tokenViewRequest(state: AppState, task: RecipeTask, examples: number): TokenViewRequest {
  const { recipe } = state;
  return {
    source: recipe.model.source,
    revision: recipe.model.revision ?? 'main',
    ...hubSettingsOf(state),
    task,
    maxLength: recipe.max_length,
    trainOnPrompts: recipe.train_on_prompts,
    seed: recipe.seed,
    examples,
  };
}

/** What a task's statistics depend on: the task, the model and how examples are cut and labelled (not the access token). */
function statsSignature({ hubToken: _token, ...request }: TokenViewRequest): string {
  return canonicalJson({ ...request, examples: 0 });
}

/** The settings a stored task file was imported with, when it kept them. */
async function storedImportSettings(name: string): Promise<ImportSettings | undefined> {
  const storage = await openIndexedDbStorage();
  try {
    const options = (await storage.getInfo<TaskFileMeta>('datasets', `${TASK_FILE_PREFIX}${name}`))?.meta.options;
    return options ? settingsOfOptions(options) : undefined;
  } finally {
    await storage.close();
  }
}

export const createTasksSlice: StateCreator<AppState, [], [], TasksSlice> = (set, get) => {
  let importAbort: AbortController | undefined;
  let hubPreviewAbort: AbortController | undefined;
  /** The signature each entry of taskStats was made for; a changed task or recipe makes it stale. */
  const statsMadeFor = new Map<string, string>();
  const statsInFlight = new Map<string, Promise<TaskStats | undefined>>();

  /** Drops stats made for a task that changed or left the recipe, so no page shows them as current. */
  const forgetStats = (taskName: string) => {
    statsMadeFor.delete(taskName);
    set((state) => ({ taskStats: Object.fromEntries(Object.entries(state.taskStats).filter(([name]) => name !== taskName)) }));
  };

  const keepStats = (taskName: string, signature: string, stats: TaskStats) => {
    statsMadeFor.set(taskName, signature);
    set((state) => ({ taskStats: { ...state.taskStats, [taskName]: stats } }));
  };

  const runImport = async (fileName: string, file: () => Promise<Blob>, settings: ImportSettings) => {
    importAbort?.abort();
    const abort = (importAbort = new AbortController());
    set({ taskImport: { status: 'importing', fileName, settings } });
    try {
      const blob = await file();
      const result = await get()
        .engine()
        .request(
          'data.import',
          { name: fileName, file: blob, options: importOptions(settings) },
          { signal: abort.signal, onProgress: (progress) => set((state) => (state.taskImport.fileName === fileName ? { taskImport: { ...state.taskImport, progress } } : {})) },
        );
      // A newer import (or Dismiss) replaced this one: its result is no longer what the page shows.
      if (importAbort === abort) set({ taskImport: { status: 'done', fileName, settings, result } });
    } catch (error) {
      const report = toErrorReport(error);
      if (importAbort === abort) set({ taskImport: { status: report.code === 'CANCELLED' ? 'cancelled' : 'failed', fileName, settings, error: report } });
    } finally {
      void get().refreshImportedFiles();
    }
  };

  return {
    importSettings: DEFAULT_IMPORT_SETTINGS,
    taskImport: { status: 'idle' },
    hubPreview: { status: 'idle' },
    importedFiles: { status: 'idle', files: [] },
    taskStats: {},

    setImportSettings(settings) {
      set((state) => ({ importSettings: { ...state.importSettings, ...settings } }));
    },

    importTaskFile(file) {
      return runImport(file.name, async () => file, get().importSettings);
    },

    async reopenImportedFile(name, settings) {
      const readSettings = settings ?? (await storedImportSettings(name)) ?? get().importSettings;
      set({ importSettings: readSettings });
      return runImport(
        name,
        async () => {
          const storage = await openIndexedDbStorage();
          try {
            const bytes = await storage.getBytes('datasets', `${TASK_FILE_PREFIX}${name}`);
            if (!bytes) throw new CocktailError('TASK_FILE_NOT_FOUND', `${name} is not among the files imported in this browser (or it was deleted on the Library page); import it again.`, { file: name });
            return new Blob([bytes as Uint8Array<ArrayBuffer>]);
          } finally {
            await storage.close();
          }
        },
        readSettings,
      );
    },

    cancelTaskImport() {
      importAbort?.abort();
    },

    async previewHubSplit(ref) {
      hubPreviewAbort?.abort();
      const abort = (hubPreviewAbort = new AbortController());
      // A newer preview replaced this one: what it brings back is not what the form shows.
      const current = () => hubPreviewAbort === abort;
      set({ hubPreview: { status: 'loading', ref } });
      try {
        const result = await get()
          .engine()
          .request('data.hubPreview', { ...ref, ...hubSettingsOf(get()) }, { signal: abort.signal, onProgress: (progress) => current() && set((state) => ({ hubPreview: { ...state.hubPreview, progress } })) });
        if (current()) set({ hubPreview: { status: 'done', ref, result } });
      } catch (error) {
        const report = toErrorReport(error);
        if (current()) set({ hubPreview: { status: report.code === 'CANCELLED' || abort.signal.aborted ? 'cancelled' : 'failed', ref, error: report } });
      }
    },

    cancelHubPreview() {
      hubPreviewAbort?.abort();
    },

    clearTaskImport() {
      importAbort?.abort();
      importAbort = undefined;
      set({ taskImport: { status: 'idle' } });
    },

    async refreshImportedFiles() {
      set((state) => ({ importedFiles: { ...state.importedFiles, status: 'loading' } }));
      try {
        const storage = await openIndexedDbStorage();
        try {
          const items = await storage.list<TaskFileMeta>('datasets', TASK_FILE_PREFIX);
          const files = items.map(({ meta, size }) => ({
            name: meta.name,
            rows: meta.rows,
            format: meta.format,
            importedAt: meta.importedAt,
            bytes: size,
            ...(meta.options ? { settings: settingsOfOptions(meta.options) } : {}),
          }));
          set({ importedFiles: { status: 'ready', files } });
        } finally {
          await storage.close();
        }
      } catch (error) {
        set((state) => ({ importedFiles: { ...state.importedFiles, status: 'failed', error: toErrorReport(error) } }));
      }
    },

    async showTokenView(taskName) {
      const task = get().recipe.tasks.find((t) => t.name === taskName);
      if (!task) return;
      set({ tokenView: { task: taskName, status: 'loading' } });
      const request = tokenViewRequest(get(), task, TOKEN_VIEW_EXAMPLES);
      if (get().taskStats[taskName] && statsMadeFor.get(taskName) !== statsSignature(request)) forgetStats(taskName);
      try {
        const result = await get()
          .engine()
          .request('data.tokenView', request, {
            onProgress: (progress) => set((state) => (state.tokenView?.task === taskName ? { tokenView: { ...state.tokenView, progress } } : {})),
          });
        keepStats(taskName, statsSignature(request), result.stats);
        if (get().tokenView?.task === taskName) set({ tokenView: { task: taskName, status: 'done', examples: result.examples, maxLength: result.maxLength, skipped: result.skipped } });
      } catch (error) {
        if (get().tokenView?.task === taskName) set({ tokenView: { task: taskName, status: 'failed', error: toErrorReport(error) } });
      }
    },

    loadTaskStats(taskName, options = {}) {
      const task = get().recipe.tasks.find((t) => t.name === taskName);
      const known = get().taskStats[taskName];
      if (!task) {
        if (known) forgetStats(taskName);
        return Promise.resolve(undefined);
      }
      const request = tokenViewRequest(get(), task, 0);
      const signature = statsSignature(request);
      if (known && statsMadeFor.get(taskName) === signature) return Promise.resolve(known);
      if (known) forgetStats(taskName);
      const pending = statsInFlight.get(signature);
      if (pending) return pending;
      const fetching = get()
        .engine()
        .request('data.tokenView', request, options)
        .then((result) => {
          keepStats(taskName, signature, result.stats);
          return result.stats;
        })
        .finally(() => statsInFlight.delete(signature));
      statsInFlight.set(signature, fetching);
      return fetching;
    },
  };
};
