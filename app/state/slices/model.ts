import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import type { EngineCheck } from '../../model/verify.ts';
import { cachePrefix, DEFAULT_HUB_ENDPOINT, type HubProgress } from '../../model/hub.ts';
import type { QuantDType } from '../../gpu/dtype.ts';
import type { MemoryEstimate } from '../../model/memory.ts';
import type { Int4Options, QuantizationError } from '../../model/quantization.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { HubSettings, ModelRef, ModelSummary, TrainingPlanRequest } from '../../../workers/protocol.ts';
import { secondsLeft, TransferRate } from '../transfer-rate.ts';
import type { AppState } from '../store.ts';

/**
 * The Model page's state: where models download from, the model the recipe uses (downloaded from
 * the Hub or imported from local files, described by the worker's ModelSummary), the download in
 * progress, and the memory plan and engine check for that model. The chosen model is written into
 * the recipe, so the run trains the model this page shows.
 */
export interface ModelSlice {
  /** Base URL of the Hub (or a mirror in its layout); kept in localStorage. */
  hubEndpoint: string;
  setHubEndpoint(endpoint: string): void;
  /** The user's Hub access token for gated or private repositories; '' when none. Kept in localStorage when asked. */
  hubToken: string;
  /** The token is kept in localStorage (the user asked to remember it); otherwise it lasts for the visit. */
  hubTokenRemembered: boolean;
  setHubToken(token: string, remember: boolean): void;
  model: ModelState;
  /** The GPU memory the user says training may use; undefined: the planner's default for this adapter. */
  memoryBudgetBytes: number | undefined;
  setMemoryBudget(bytes: number | undefined): void;
  plan: { status: 'idle' | 'running' | 'done' | 'failed'; request?: TrainingPlanRequest; estimate?: MemoryEstimate; error?: ErrorReport };
  verify: { status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled'; stage?: 'download' | 'onnx' | 'engine'; result?: EngineCheck & { prompt: string }; error?: ErrorReport };
  /** The measured error of the model's projections in int8/int4, for the settings in `key` (dtype and group). */
  quantError: { status: 'idle' | 'running' | 'done' | 'failed'; key?: string; result?: QuantizationError; error?: ErrorReport };
  /** Downloads (or finds in storage) a Hub model, or opens a stored local one, and makes it the recipe's model. */
  loadModel(ref: ModelRef): Promise<void>;
  /** Copies picked or dropped files into storage as `local/<name>` and makes that the recipe's model. */
  importLocalModel(name: string, files: File[], paths?: string[]): Promise<void>;
  /** Stops the download or import in progress; finished chunks stay in storage. */
  cancelModelLoad(): void;
  /** At start-up: shows the recipe's model as loaded when it is already in storage (no network needed). */
  restoreModel(): Promise<void>;
  /** The model was deleted from storage (Library): it no longer shows as loaded. */
  forgetModel(ref: ModelRef): void;
  planTraining(request: TrainingPlanRequest): Promise<void>;
  /** Loads the model with int8/int4 projections and measures their output error on calibration rows. */
  measureQuantization(dtype: QuantDType, int4?: Int4Options): Promise<void>;
  verifyEngine(prompt?: string): Promise<void>;
  cancelVerify(): void;
}

export type ModelStatus = 'idle' | 'checking' | 'loading' | 'importing' | 'ready' | 'failed' | 'cancelled';

export interface ModelState {
  status: ModelStatus;
  /** The model being loaded, or the last one asked for. */
  request?: ModelRef;
  /** The model the recipe uses, once loaded; kept when a later load fails. */
  summary?: ModelSummary;
  download?: DownloadProgress;
  importProgress?: { file: string; loaded: number; total: number };
  error?: ErrorReport;
  /** Found at start-up: a download of the recipe's model that stopped part way. */
  interrupted?: ModelRef;
}

export interface DownloadProgress extends HubProgress {
  bytesPerSecond?: number;
  /** Seconds until the file being downloaded is complete, at the current speed. */
  etaSeconds?: number;
}

export const HUB_ENDPOINT_KEY = 'cocktail.hubEndpoint';
export const HUB_TOKEN_KEY = 'cocktail.hubToken';

/** What every command that may download needs to know about the Hub (workers/protocol.ts HubSettings). */
export function hubSettingsOf(state: Pick<ModelSlice, 'hubEndpoint' | 'hubToken'>): HubSettings {
  return { hubEndpoint: state.hubEndpoint, ...(state.hubToken ? { hubToken: state.hubToken } : {}) };
}
export const MEMORY_BUDGET_KEY = 'cocktail.memoryBudgetBytes';

function readSetting(key: string): string | undefined {
  try {
    return globalThis.localStorage?.getItem(key) ?? undefined;
  } catch {
    return undefined; // storage disabled: settings last for this visit only
  }
}

function writeSetting(key: string, value: string | undefined): void {
  try {
    if (value === undefined) globalThis.localStorage?.removeItem(key);
    else globalThis.localStorage?.setItem(key, value);
  } catch {
    // storage disabled or full: the setting still applies for this visit
  }
}

/**
 * The recipe's model once `summary` is the model the studio uses: its source and revision; for a GPTQ/AWQ
 * checkpoint also int4 in the checkpoint's own group size and symmetry, the only weights it loads as (a run
 * refuses any other model.dtype for it), so opening one leaves a recipe that trains it. Any other model keeps
 * the weight settings the recipe had, except after a GPTQ/AWQ checkpoint (`replaced`): those settings were
 * the checkpoint's, not a choice, and kept they would quantize the new model's 16-bit weights to int4, so the
 * new model loads as stored (dtype, group_size and symmetric removed).
 */
export function recipeModelFor(model: Recipe['model'], summary: Pick<ModelSummary, 'source' | 'revision' | 'prequantized'>, replaced?: Pick<ModelSummary, 'prequantized'>): Recipe['model'] {
  const located = { ...model, source: summary.source, revision: summary.revision };
  const quantized = summary.prequantized;
  if (quantized) return { ...located, dtype: 'int4', group_size: quantized.group, symmetric: quantized.symmetric };
  if (!replaced?.prequantized) return located;
  const { dtype: _dtype, group_size: _group, symmetric: _symmetric, ...asStored } = located;
  return asStored;
}

export type StoredModel = 'complete' | 'partial' | 'absent';

/**
 * What storage holds of a model, read from its cache manifests without the network (app/model/hub.ts
 * layout, which also holds models imported from local files, under revision "local").
 */
export async function storedModel(ref: ModelRef): Promise<StoredModel> {
  const storage = await openIndexedDbStorage();
  try {
    const prefix = cachePrefix(ref.source, ref.revision);
    const manifests = (await storage.list<{ complete?: boolean; url?: string }>('models', prefix)).filter((item) => !item.key.includes('#'));
    return storedState(manifests.map((item) => ({ path: item.key.slice(prefix.length), complete: item.meta.complete === true, absent: item.meta.url === 'absent' })));
  } finally {
    await storage.close();
  }
}

/** Complete when config, tokenizer and weights are cached and no download stopped part way. */
export function storedState(manifests: { path: string; complete: boolean; absent: boolean }[]): StoredModel {
  if (manifests.length === 0) return 'absent';
  const complete = (path: string) => manifests.some((item) => item.path === path && item.complete);
  const unfinished = manifests.some((item) => !item.complete && !item.absent);
  const weights = complete('model.safetensors') || complete('model.safetensors.index.json');
  return complete('config.json') && complete('tokenizer.json') && weights && !unfinished ? 'complete' : 'partial';
}

export const createModelSlice: StateCreator<AppState, [], [], ModelSlice> = (set, get) => {
  let loadAbort: AbortController | undefined;
  let verifyAbort: AbortController | undefined;
  let restoring: Promise<void> | undefined;
  let planSequence = 0;
  const savedBudget = Number(readSetting(MEMORY_BUDGET_KEY));

  const adoptModel = (summary: ModelSummary) => {
    const replaced = get().model.summary;
    set({ model: { status: 'ready', summary, request: { source: summary.source, revision: summary.revision } }, plan: { status: 'idle' }, verify: { status: 'idle' }, quantError: { status: 'idle' } });
    const { model } = get().recipe;
    const adopted = recipeModelFor(model, summary, replaced);
    const keys = new Set([...Object.keys(model), ...Object.keys(adopted)] as (keyof Recipe['model'])[]);
    if ([...keys].some((key) => adopted[key] !== model[key])) {
      get().updateRecipe((recipe) => ({ ...recipe, model: recipeModelFor(recipe.model, summary, replaced) }));
    }
  };

  const fail = (error: unknown, request: ModelRef) => {
    const report = toErrorReport(error);
    set((state) => ({
      model: {
        ...(state.model.summary ? { summary: state.model.summary } : {}),
        request,
        status: report.code === 'CANCELLED' ? 'cancelled' : 'failed',
        ...(report.code === 'CANCELLED' ? {} : { error: report }),
      },
    }));
  };

  const keepSummary = (state: AppState) => (state.model.summary ? { summary: state.model.summary } : {});

  return {
    hubEndpoint: readSetting(HUB_ENDPOINT_KEY) || DEFAULT_HUB_ENDPOINT,
    setHubEndpoint(endpoint) {
      const trimmed = endpoint.trim().replace(/\/+$/, '') || DEFAULT_HUB_ENDPOINT;
      writeSetting(HUB_ENDPOINT_KEY, trimmed === DEFAULT_HUB_ENDPOINT ? undefined : trimmed);
      set({ hubEndpoint: trimmed });
    },
    hubToken: readSetting(HUB_TOKEN_KEY) ?? '',
    hubTokenRemembered: readSetting(HUB_TOKEN_KEY) !== undefined,
    setHubToken(token, remember) {
      const trimmed = token.trim();
      writeSetting(HUB_TOKEN_KEY, remember && trimmed ? trimmed : undefined);
      set({ hubToken: trimmed, hubTokenRemembered: remember });
    },

    model: { status: 'idle' },
    memoryBudgetBytes: Number.isFinite(savedBudget) && savedBudget > 0 ? savedBudget : undefined,
    setMemoryBudget(bytes) {
      writeSetting(MEMORY_BUDGET_KEY, bytes === undefined ? undefined : String(bytes));
      set({ memoryBudgetBytes: bytes });
    },
    plan: { status: 'idle' },
    quantError: { status: 'idle' },
    verify: { status: 'idle' },

    async loadModel(ref) {
      loadAbort?.abort();
      const abort = (loadAbort = new AbortController());
      const request = { source: ref.source.trim(), revision: ref.revision.trim() || 'main' };
      const rate = new TransferRate();
      set((state) => ({ model: { ...keepSummary(state), status: 'loading', request } }));
      try {
        const summary = await get()
          .engine()
          .request('model.load', { ...request, ...hubSettingsOf(get()) }, {
            signal: abort.signal,
            onProgress: (progress) => {
              rate.add(performance.now(), progress.downloaded);
              const bytesPerSecond = rate.bytesPerSecond();
              const etaSeconds = progress.total === null ? undefined : secondsLeft(progress.total - progress.loaded, bytesPerSecond);
              set((state) => ({
                model: {
                  ...state.model,
                  download: { ...progress, ...(bytesPerSecond === undefined ? {} : { bytesPerSecond }), ...(etaSeconds === undefined ? {} : { etaSeconds }) },
                },
              }));
            },
          });
        if (loadAbort === abort) adoptModel(summary);
      } catch (error) {
        if (loadAbort === abort) fail(error, request);
      } finally {
        if (loadAbort === abort) loadAbort = undefined;
        void get().refreshStorage();
      }
    },

    async importLocalModel(name, files, paths) {
      loadAbort?.abort();
      const abort = (loadAbort = new AbortController());
      const request = { source: `local/${name.trim()}`, revision: 'local' };
      set((state) => ({ model: { ...keepSummary(state), status: 'importing', request } }));
      try {
        const summary = await get()
          .engine()
          .request('model.importLocal', { name: name.trim(), files, ...(paths ? { paths } : {}) }, {
            signal: abort.signal,
            onProgress: (importProgress) => set((state) => ({ model: { ...state.model, importProgress } })),
          });
        if (loadAbort === abort) adoptModel(summary);
      } catch (error) {
        if (loadAbort === abort) fail(error, request);
      } finally {
        if (loadAbort === abort) loadAbort = undefined;
        void get().refreshStorage();
      }
    },

    cancelModelLoad() {
      loadAbort?.abort();
    },

    forgetModel({ source, revision }) {
      const { summary } = get().model;
      if (summary?.source !== source || summary.revision !== revision) return;
      restoring = undefined;
      set({ model: { status: 'idle' }, plan: { status: 'idle' }, verify: { status: 'idle' }, quantError: { status: 'idle' } });
    },

    restoreModel() {
      restoring ??= (async () => {
        if (get().model.status !== 'idle') return;
        const { source, revision } = get().recipe.model;
        set({ model: { status: 'checking', request: { source, revision } } });
        let stored: StoredModel;
        try {
          stored = await storedModel({ source, revision });
        } catch {
          stored = 'absent'; // no storage (private mode): nothing to restore, the page still works
        }
        if (get().model.status !== 'checking') return; // the user started something meanwhile
        if (stored === 'complete') await get().loadModel({ source, revision });
        else set({ model: { status: 'idle', ...(stored === 'partial' ? { interrupted: { source, revision } } : {}) } });
      })();
      return restoring;
    },

    async planTraining(request) {
      const summary = get().model.summary;
      if (!summary) return;
      const sequence = ++planSequence;
      set((state) => ({ plan: { ...state.plan, status: 'running', request } }));
      try {
        const estimate = await get().engine().request('model.plan', { source: summary.source, revision: summary.revision, plan: request });
        // Inputs change while a plan runs: only the newest request's answer is shown.
        if (sequence === planSequence) set({ plan: { status: 'done', request, estimate } });
      } catch (error) {
        if (sequence === planSequence) set({ plan: { status: 'failed', request, error: toErrorReport(error) } });
      }
    },

    async measureQuantization(dtype, int4) {
      const summary = get().model.summary;
      if (!summary) return;
      const key = quantizationKey(dtype, int4);
      set({ quantError: { status: 'running', key } });
      try {
        const result = await get().engine().request('model.quantError', { source: summary.source, revision: summary.revision, dtype, ...(int4 ? { int4 } : {}) });
        set({ quantError: { status: 'done', key, result } });
      } catch (error) {
        set({ quantError: { status: 'failed', key, error: toErrorReport(error) } });
      }
    },

    async verifyEngine(prompt) {
      const summary = get().model.summary;
      if (!summary) return;
      verifyAbort?.abort();
      const abort = (verifyAbort = new AbortController());
      set({ verify: { status: 'running' } });
      try {
        const result = await get()
          .engine()
          .request('model.verify', { source: summary.source, revision: summary.revision, ...hubSettingsOf(get()), ...(prompt ? { prompt } : {}) }, {
            signal: abort.signal,
            onProgress: ({ stage }) => set((state) => ({ verify: { ...state.verify, stage } })),
          });
        set({ verify: { status: 'done', result } });
      } catch (error) {
        const report = toErrorReport(error);
        set({ verify: report.code === 'CANCELLED' ? { status: 'cancelled' } : { status: 'failed', error: report } });
      } finally {
        if (verifyAbort === abort) verifyAbort = undefined;
      }
    },

    cancelVerify() {
      verifyAbort?.abort();
    },
  };
};

/** Which quantization a measurement is for: the planner shows it only while the same one is chosen. */
export function quantizationKey(dtype: QuantDType, int4?: Int4Options): string {
  return dtype === 'int4' ? `int4 g${int4?.group ?? 64}${int4?.symmetric ? ' symmetric' : ''}` : dtype;
}
