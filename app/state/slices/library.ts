import type { StateCreator } from 'zustand';
import { CocktailError, toErrorReport, type ErrorReport } from '../../errors.ts';
import { parseModelConfig, type ModelConfig } from '../../model/config.ts';
import { deleteCachedModel, filesFromHub } from '../../model/hub.ts';
import { readJsonFile } from '../../model/source.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import { isExperimentItem, type ItemInfo, type Json, type Storage } from '../../store/storage.ts';
import { saveFile } from '../../studio/download.ts';
import { runHistory } from '../run-histories.ts';
import { runMetricsCsv } from '../../studio/run-metrics.ts';
import { taskNamesOf } from './train.ts';
import { adapterItems, checkedName, safeFileName, groupDatasetItems, groupModelItems, peftZipName, runBelongings, type AdapterItem, type CacheItem, type DatasetFileItem, type HubSplitItem, type ModelItem } from '../../studio/library-items.ts';
import { checkPeftAdapter, importedAdapterKey, readPeftUpload, type NamedBlob, type PeftSummary } from '../../studio/peft-upload.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, unzipPeftAdapter, zipPeftAdapter } from '../../train/peft.ts';
import { deleteCheckpoints } from '../../train/checkpoint.ts';
import { parseRecipe, RecipeError, type RecipeProblem } from '../../train/recipe.ts';
import type { RunRecord } from '../../../workers/protocol.ts';
import { cancelRequests, settledRunRecord } from '../../studio/cancel-requests.ts';
import type { AppState } from '../store.ts';
import { deleteRunControl } from '../../train/run-control.ts';

/**
 * The Library: everything the studio keeps in this browser's storage, as the user thinks of it —
 * models, data sets, adapters and runs, with their sizes — and what can be done with them: delete,
 * export (PEFT adapters, a run's recipe) and import (PEFT adapters, recipes). Storage is read
 * directly (metas only, so listing is quick); after every change the library and the storage usage
 * are read again. Errors are kept per section, so each shows where it happened.
 */
export type LibrarySection = 'models' | 'datasets' | 'adapters' | 'runs';

export interface CheckpointItem {
  key: string;
  bytes: number;
}

export interface LibraryState {
  status: 'idle' | 'loading' | 'ready' | 'failed';
  models: ModelItem[];
  datasets: DatasetFileItem[];
  /** Hub data set splits downloaded for training, kept for offline use. */
  hubDatasets: HubSplitItem[];
  caches: CacheItem[];
  adapters: AdapterItem[];
  /** Newest first. */
  runs: RunRecord[];
  checkpoints: CheckpointItem[];
  /** Listing failed (storage unavailable). */
  error?: ErrorReport;
  /** A delete or export that failed, shown in its section. */
  sectionErrors: Partial<Record<LibrarySection, ErrorReport>>;
  adapterImport: { status: 'idle' | 'checking' | 'done' | 'failed'; key?: string; summary?: PeftSummary; error?: ErrorReport };
  recipeImport: { status: 'idle' | 'done' | 'failed'; name?: string; tasks?: number; error?: ErrorReport; problems?: RecipeProblem[] };
}

export interface LibrarySlice {
  library: LibraryState;
  refreshLibrary(): Promise<void>;
  /** Deletes every file and chunk of a model. */
  deleteModel(model: Pick<ModelItem, 'source' | 'revision'>): Promise<void>;
  /** Deletes stored data set items: an imported file, a Hub split, or every item of a cache. */
  deleteDatasetItems(keys: readonly string[]): Promise<void>;
  deleteAdapter(key: string): Promise<void>;
  /** Deletes a run's record and, when asked, its checkpoint and the adapters it exported. */
  deleteRun(runId: string, options: { withBelongings: boolean }): Promise<void>;
  /** Downloads an adapter as its PEFT zip, or one of the two files inside. */
  exportAdapter(key: string, what: 'zip' | 'config' | 'weights'): Promise<void>;
  /** Downloads a run's recipe as recipe.json. */
  exportRunRecipe(runId: string): void;
  /** Downloads a run's metrics (steps and evaluations) as a CSV file. */
  exportRunMetrics(runId: string): Promise<void>;
  /** Gives a run a new name (its id stays). */
  renameRun(runId: string, name: string): Promise<void>;
  /** Gives an adapter a name to show (its key stays: recipes and evaluations name it). */
  renameAdapter(key: string, label: string): Promise<void>;
  /** Checks a PEFT adapter (a zip, or its two files) and adds it to the library. */
  importAdapter(files: readonly NamedBlob[]): Promise<void>;
  /** Checks a recipe file and makes it the studio's recipe; on any problem the current recipe stays. */
  importRecipe(file: NamedBlob): Promise<void>;
}

const EMPTY: LibraryState = {
  status: 'idle',
  models: [],
  datasets: [],
  hubDatasets: [],
  caches: [],
  adapters: [],
  runs: [],
  checkpoints: [],
  sectionErrors: {},
  adapterImport: { status: 'idle' },
  recipeImport: { status: 'idle' },
};

async function withStorage<T>(work: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await openIndexedDbStorage();
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

/**
 * The config of the recipe's model when it is in storage, read without the network; undefined when
 * it is not there (the adapter is then checked on its own).
 */
async function storedModelConfig(storage: Storage, source: string, revision: string): Promise<ModelConfig | undefined> {
  const offline: typeof fetch = (input) => Promise.reject(new Error(`${String(input)}: the Library reads models only from storage`));
  try {
    const files = await filesFromHub(source, { storage, revision, fetch: offline });
    return parseModelConfig(await readJsonFile(files, 'config.json'));
  } catch {
    return undefined;
  }
}

export const createLibrarySlice: StateCreator<AppState, [], [], LibrarySlice> = (set, get) => {
  const update = (change: Partial<LibraryState>) => set((state) => ({ library: { ...state.library, ...change } }));
  const sectionError = (section: LibrarySection, error?: unknown) =>
    set((state) => {
      const sectionErrors = { ...state.library.sectionErrors };
      if (error === undefined) delete sectionErrors[section];
      else sectionErrors[section] = toErrorReport(error);
      return { library: { ...state.library, sectionErrors } };
    });
  /** Runs a change to storage, then shows the library and the usage as they are now. */
  const change = async (section: LibrarySection, work: (storage: Storage) => Promise<void>) => {
    sectionError(section);
    try {
      await withStorage(work);
    } catch (error) {
      sectionError(section, error);
    }
    await Promise.all([get().refreshLibrary(), get().refreshStorage()]);
  };

  return {
    library: EMPTY,

    async refreshLibrary() {
      if (get().library.status === 'idle') update({ status: 'loading' });
      try {
        const [models, datasets, adapters, runs, checkpoints] = await withStorage((storage) =>
          Promise.all([storage.list('models'), storage.list('datasets'), storage.list('adapters'), storage.list<Json>('runs'), storage.list('checkpoints')]),
        );
        const { files, hubSplits, caches } = groupDatasetItems(datasets);
        const { error: _error, ...rest } = get().library;
        set({
          library: {
            ...rest,
            status: 'ready',
            models: groupModelItems(models),
            datasets: files,
            hubDatasets: hubSplits,
            caches,
            adapters: adapterItems(adapters),
            runs: runs.filter((info) => !isExperimentItem(info.key)).map((info) => settledRunRecord(info.meta as unknown as RunRecord, cancelRequests())).sort((a, b) => b.startedAt - a.startedAt),
            checkpoints: checkpoints.map((info: ItemInfo) => ({ key: info.key, bytes: info.size })),
          },
        });
      } catch (error) {
        update({ status: 'failed', error: toErrorReport(error) });
      }
    },

    deleteModel: ({ source, revision }) =>
      change('models', async (storage) => {
        await deleteCachedModel(storage, source, revision);
        get().forgetModel({ source, revision });
      }),

    deleteDatasetItems: (keys) =>
      change('datasets', async (storage) => {
        for (const key of keys) await storage.delete('datasets', key);
      }),

    deleteAdapter: (key) =>
      change('adapters', async (storage) => {
        await storage.delete('adapters', key);
      }),

    deleteRun: (runId, { withBelongings }) =>
      change('runs', async (storage) => {
        if (withBelongings) {
          const { library } = get();
          const belongings = runBelongings(runId, library.adapters, []);
          for (const adapter of belongings.adapters) await storage.delete('adapters', adapter.key);
          await deleteCheckpoints(storage, runId);
          await deleteRunControl(storage, runId);
        }
        await storage.delete('runs', runId);
      }),

    async exportAdapter(key, what) {
      sectionError('adapters');
      try {
        const zip = await withStorage((storage) => storage.getBytes('adapters', key));
        if (!zip) throw new CocktailError('ADAPTER_NOT_FOUND', `adapter "${key}" is no longer in the library`, { adapter: key });
        const adapter = get().library.adapters.find((a) => a.key === key) ?? { key, name: key.split('/').at(-1)! };
        if (what === 'zip') {
          saveFile(zip, peftZipName(adapter), 'application/zip');
          return;
        }
        const files = unzipPeftAdapter(zip, peftZipName(adapter));
        if (what === 'config') saveFile(files.config, ADAPTER_CONFIG, 'application/json');
        else saveFile(new Uint8Array(await files.weights.arrayBuffer()), ADAPTER_WEIGHTS);
      } catch (error) {
        sectionError('adapters', error);
      }
    },

    async exportRunMetrics(runId) {
      sectionError('runs');
      try {
        const run = get().library.runs.find((r) => r.runId === runId);
        if (!run) throw new CocktailError('RUN_NOT_FOUND', `run "${runId}" is no longer in the library`, { runId });
        const history = await withStorage((storage) => runHistory(storage, runId));
        const csv = runMetricsCsv({ taskNames: taskNamesOf(run.recipe), history, evaluations: run.evaluations });
        saveFile(csv, `${safeFileName(run.name || run.runId)}-metrics.csv`, 'text/csv');
      } catch (error) {
        sectionError('runs', error);
      }
    },

    renameRun: (runId, text) =>
      change('runs', async (storage) => {
        const name = checkedName(text, 'run');
        const info = await storage.getInfo('runs', runId);
        if (!info) throw new CocktailError('RUN_NOT_FOUND', `run "${runId}" is no longer in the library`, { runId });
        await storage.put('runs', runId, { ...(info.meta as Record<string, Json>), name });
        if (get().train.runId === runId) set((state) => ({ train: { ...state.train, name } }));
      }),

    renameAdapter: (key, text) =>
      change('adapters', async (storage) => {
        const label = checkedName(text, 'adapter');
        const [info, blob] = await Promise.all([storage.getInfo('adapters', key), storage.getBlob('adapters', key)]);
        if (!info || !blob) throw new CocktailError('ADAPTER_NOT_FOUND', `adapter "${key}" is no longer in the library`, { adapter: key });
        await storage.put('adapters', key, { ...(info.meta as Record<string, Json>), label }, blob);
      }),

    exportRunRecipe(runId) {
      const run = get().library.runs.find((r) => r.runId === runId);
      if (!run) return;
      saveFile(`${JSON.stringify(run.recipe, null, 2)}\n`, 'recipe.json', 'application/json');
    },

    async importAdapter(files) {
      update({ adapterImport: { status: 'checking' } });
      try {
        const upload = await readPeftUpload(files);
        const { model } = get().recipe;
        await withStorage(async (storage) => {
          const summary = await checkPeftAdapter(upload.files, await storedModelConfig(storage, model.source, model.revision));
          const taken = new Set((await storage.list('adapters', 'imported/')).map((info) => info.key));
          const key = importedAdapterKey(upload.suggestedName, taken);
          const meta: Json = {
            name: key.slice('imported/'.length),
            baseModel: summary.baseModel ?? model.source,
            r: summary.r,
            importedFrom: upload.source,
            ...(summary.checkedAgainstModel ? { checkedFor: model.source } : {}),
          };
          await storage.put('adapters', key, meta, await zipPeftAdapter(upload.files));
          update({ adapterImport: { status: 'done', key, summary } });
        });
        await Promise.all([get().refreshLibrary(), get().refreshStorage()]);
      } catch (error) {
        update({ adapterImport: { status: 'failed', error: toErrorReport(error) } });
      }
    },

    async importRecipe(file) {
      try {
        const recipe = parseRecipe(await file.text(), file.name);
        get().setRecipe(recipe);
        update({ recipeImport: { status: 'done', ...(recipe.name ? { name: recipe.name } : {}), tasks: recipe.tasks.length } });
      } catch (error) {
        update({ recipeImport: { status: 'failed', error: toErrorReport(error), ...(error instanceof RecipeError ? { problems: error.problems } : {}) } });
      }
    },
  };
};
