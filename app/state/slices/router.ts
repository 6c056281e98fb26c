import type { StateCreator } from 'zustand';
import { CocktailError, toErrorReport, type ErrorReport } from '../../errors.ts';
import type { RouterEvaluation } from '../../route/evaluate.ts';
import type { HeadEvaluation } from '../../route/head.ts';
import type { LayerComparison, LayerComparisonProgress, LayerResult } from '../../route/layers.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import type { Json } from '../../store/storage.ts';
import { saveFile } from '../../studio/download.ts';
import { safeFileName } from '../../studio/library-items.ts';
import { DEFAULT_ROUTER_SETTINGS, layerComparisonRequest, routerRequest, settingsForLayer, type RouterSettings } from '../../studio/router-plan.ts';
import type { PrepareProgress } from '../../train/prepare.ts';
import type { CommandType, RouterLayersProgress, RouterRecord, RouterTrainProgress, TrainProgress } from '../../../workers/protocol.ts';
import { createFrameBatcher } from '../frame-batcher.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * Routers over task adapters (app/route): the Router page's settings and its training through the
 * worker's router.train (live head evaluations batched per animation frame, Cancel), the routers the
 * Library keeps (the "routers" store, read directly like the other sections), their export as the
 * bundle zip, import, delete, and their evaluation for the Evaluate page; "Compare layers" (router.layers)
 * and "use this layer", which sets the form's layer and pooling.
 */
export interface RouterTraining {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  stage?: Extract<RouterTrainProgress, { kind: 'stage' }>['stage'];
  detail?: string;
  prepare?: PrepareProgress;
  /** The head's evaluations so far, each with the time it arrived (for the ETA). */
  history: (HeadEvaluation & { at: number })[];
  maxSteps: number;
  /** The router just trained and stored. */
  record?: RouterRecord;
  waitingBehind?: CommandType;
  error?: ErrorReport;
}

export interface RouterEvaluationState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  routerKey?: string;
  stage?: string;
  /** Tasks evaluated so far. */
  tasksDone: string[];
  waitingBehind?: CommandType;
  error?: ErrorReport;
}

/** "Compare layers" on the Router page: the comparison's progress, its results as they come, and the whole when done. */
export interface LayerComparisonState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  stage?: 'model' | 'data';
  prepare?: PrepareProgress;
  progress?: LayerComparisonProgress;
  /** Heads trained so far, layer by layer. */
  results: LayerResult[];
  comparison?: LayerComparison;
  waitingBehind?: CommandType;
  error?: ErrorReport;
}

export interface RouterSlice {
  routerSettings: RouterSettings;
  routerTraining: RouterTraining;
  /** The Library's routers, newest first. */
  routers: { status: 'idle' | 'loading' | 'ready' | 'failed'; items: RouterRecord[]; error?: ErrorReport; importError?: ErrorReport; imported?: string };
  routerEvaluation: RouterEvaluationState;
  routerLayers: LayerComparisonState;
  updateRouterSettings(change: Partial<RouterSettings>): void;
  /** Compares the form's router at every layer, for its pooling or (everyPooling) every pooling. */
  compareRouterLayers(everyPooling: boolean): Promise<void>;
  cancelLayerComparison(): void;
  /** "Use this layer": sets the form's layer and pooling to a compared one. */
  useComparedLayer(result: Pick<LayerResult, 'layer' | 'pooling'>): void;
  trainRouter(): Promise<void>;
  cancelRouterTraining(): void;
  refreshRouters(): Promise<void>;
  deleteRouter(key: string): Promise<void>;
  /** Downloads the router's bundle as a zip (docs/router-format.md). */
  exportRouter(key: string): Promise<void>;
  importRouter(file: File): Promise<void>;
  evaluateRouter(key: string, sharedKey?: string): Promise<void>;
  cancelRouterEvaluation(): void;
}

export const ROUTER_SETTINGS_KEY = 'cocktail.router.v1';

function loadSettings(): RouterSettings {
  try {
    const saved = globalThis.localStorage?.getItem(ROUTER_SETTINGS_KEY);
    if (saved) return { ...DEFAULT_ROUTER_SETTINGS, ...(JSON.parse(saved) as Partial<RouterSettings>) };
  } catch {
    // Damaged or unavailable: the defaults do.
  }
  return DEFAULT_ROUTER_SETTINGS;
}

function saveSettings(settings: RouterSettings): void {
  try {
    globalThis.localStorage?.setItem(ROUTER_SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Storage full or disabled: the settings last for this visit.
  }
}

async function withRouterStore<T>(work: (storage: Awaited<ReturnType<typeof openIndexedDbStorage>>) => Promise<T>): Promise<T> {
  const storage = await openIndexedDbStorage();
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

/** The file name a router's bundle downloads as. */
export function routerZipName(record: Pick<RouterRecord, 'name' | 'key'>): string {
  return `${safeFileName(record.name || record.key)}-router.zip`;
}

export const createRouterSlice: StateCreator<AppState, [], [], RouterSlice> = (set, get) => {
  let trainAbort: AbortController | undefined;
  let evalAbort: AbortController | undefined;
  let layersAbort: AbortController | undefined;
  const training = (change: Partial<RouterTraining>) => set((state) => ({ routerTraining: { ...state.routerTraining, ...change } }));
  const evaluating = (change: Partial<RouterEvaluationState>) => set((state) => ({ routerEvaluation: { ...state.routerEvaluation, ...change } }));
  const comparing = (change: Partial<LayerComparisonState>) => set((state) => ({ routerLayers: { ...state.routerLayers, ...change } }));
  const routers = (change: Partial<RouterSlice['routers']>) => set((state) => ({ routers: { ...state.routers, ...change } }));

  return {
    routerSettings: loadSettings(),
    routerTraining: { status: 'idle', history: [], maxSteps: DEFAULT_ROUTER_SETTINGS.maxSteps },
    routers: { status: 'idle', items: [] },
    routerEvaluation: { status: 'idle', tasksDone: [] },
    routerLayers: { status: 'idle', results: [] },

    updateRouterSettings(change) {
      const settings = { ...get().routerSettings, ...change };
      saveSettings(settings);
      set({ routerSettings: settings });
    },

    async trainRouter() {
      if (get().routerTraining.status === 'running') return;
      const settings = get().routerSettings;
      const run = get().library.runs.find((candidate) => candidate.runId === settings.runId);
      const { request, problems } = routerRequest(settings, run);
      if (!request) {
        training({ status: 'failed', error: toErrorReport(new CocktailError('ROUTER_NOT_READY', problems.join('; '), {})) });
        return;
      }
      const controller = new AbortController();
      trainAbort = controller;
      set({ routerTraining: { status: 'running', history: [], maxSteps: request.maxSteps ?? DEFAULT_ROUTER_SETTINGS.maxSteps } });
      const evaluations = createFrameBatcher<HeadEvaluation & { at: number }>((batch) => training({ history: [...get().routerTraining.history, ...batch] }));
      const onProgress = (progress: RouterTrainProgress) => {
        if (progress.kind === 'stage') training({ stage: progress.stage, detail: progress.detail, ...(progress.stage === 'data' ? {} : { prepare: undefined }) });
        else if (progress.kind === 'prepare') training({ prepare: progress.progress });
        else {
          training({ maxSteps: progress.maxSteps });
          evaluations.push({ ...progress.evaluation, at: performance.now() });
        }
      };
      try {
        const record = await get()
          .engine()
          .request('router.train', { ...request, ...hubSettingsOf(get()) }, { signal: controller.signal, onProgress, onQueued: (behind) => training({ waitingBehind: behind ?? undefined }) });
        evaluations.flush();
        training({ status: 'done', record, stage: undefined, detail: undefined, waitingBehind: undefined });
        await get().refreshRouters();
      } catch (error) {
        evaluations.flush();
        const report = toErrorReport(error);
        training({ status: controller.signal.aborted || report.code === 'CANCELLED' ? 'cancelled' : 'failed', ...(controller.signal.aborted ? {} : { error: report }), waitingBehind: undefined });
      } finally {
        evaluations.dispose();
        if (trainAbort === controller) trainAbort = undefined;
      }
    },

    cancelRouterTraining() {
      trainAbort?.abort();
    },

    async compareRouterLayers(everyPooling) {
      if (get().routerLayers.status === 'running') return;
      const settings = get().routerSettings;
      const { request, problems } = layerComparisonRequest(settings, get().library.runs.find((candidate) => candidate.runId === settings.runId), everyPooling);
      if (!request) {
        set({ routerLayers: { status: 'failed', results: [], error: toErrorReport(new CocktailError('ROUTER_NOT_READY', problems.join('; '), {})) } });
        return;
      }
      const controller = new AbortController();
      layersAbort = controller;
      set({ routerLayers: { status: 'running', results: [] } });
      const onProgress = (progress: RouterLayersProgress) => {
        if (progress.kind === 'stage') comparing({ stage: progress.stage, ...(progress.stage === 'data' ? {} : { prepare: undefined }) });
        else if (progress.kind === 'prepare') comparing({ prepare: progress.progress });
        else comparing({ stage: undefined, prepare: undefined, progress: progress.progress, ...(progress.progress.result ? { results: [...get().routerLayers.results, progress.progress.result] } : {}) });
      };
      try {
        const comparison = await get()
          .engine()
          .request('router.layers', { ...request, ...hubSettingsOf(get()) }, { signal: controller.signal, onProgress, onQueued: (behind) => comparing({ waitingBehind: behind ?? undefined }) });
        comparing({ status: 'done', comparison, results: comparison.results, progress: undefined, waitingBehind: undefined });
      } catch (error) {
        const report = toErrorReport(error);
        comparing({ status: controller.signal.aborted || report.code === 'CANCELLED' ? 'cancelled' : 'failed', ...(controller.signal.aborted ? {} : { error: report }), waitingBehind: undefined });
      } finally {
        if (layersAbort === controller) layersAbort = undefined;
      }
    },

    cancelLayerComparison() {
      layersAbort?.abort();
    },

    useComparedLayer(result) {
      get().updateRouterSettings(settingsForLayer(result));
    },

    async refreshRouters() {
      if (get().routers.status === 'idle') routers({ status: 'loading' });
      try {
        const items = await withRouterStore((storage) => storage.list<Json>('routers'));
        routers({ status: 'ready', items: items.map((info) => info.meta as unknown as RouterRecord).sort((a, b) => b.createdAt - a.createdAt), error: undefined });
      } catch (error) {
        routers({ status: 'failed', error: toErrorReport(error) });
      }
    },

    async deleteRouter(key) {
      try {
        await withRouterStore((storage) => storage.delete('routers', key));
      } catch (error) {
        routers({ error: toErrorReport(error) });
      }
      await Promise.all([get().refreshRouters(), get().refreshStorage()]);
    },

    async exportRouter(key) {
      try {
        const zip = await withRouterStore((storage) => storage.getBytes('routers', key));
        const record = get().routers.items.find((item) => item.key === key);
        if (!zip) throw new CocktailError('ROUTER_NOT_FOUND', `router "${key}" is no longer in the library`, { router: key });
        saveFile(zip, routerZipName(record ?? { name: key, key }), 'application/zip');
      } catch (error) {
        routers({ error: toErrorReport(error) });
      }
    },

    async importRouter(file) {
      routers({ importError: undefined, imported: undefined });
      try {
        const record = await get().engine().request('router.import', { name: file.name, file });
        routers({ imported: record.name });
      } catch (error) {
        routers({ importError: toErrorReport(error) });
      }
      await Promise.all([get().refreshRouters(), get().refreshStorage()]);
    },

    async evaluateRouter(key, sharedKey) {
      if (get().routerEvaluation.status === 'running') return;
      const controller = new AbortController();
      evalAbort = controller;
      set({ routerEvaluation: { status: 'running', routerKey: key, tasksDone: [] } });
      const onProgress = (progress: TrainProgress) => {
        if (progress.kind === 'stage') evaluating({ stage: progress.stage });
        else if (progress.kind === 'eval-progress') evaluating({ tasksDone: [...get().routerEvaluation.tasksDone, progress.progress.task] });
      };
      try {
        const evaluation: RouterEvaluation = await get()
          .engine()
          .request('router.evaluate', { routerKey: key, ...(sharedKey ? { sharedKey } : {}), ...hubSettingsOf(get()) }, { signal: controller.signal, onProgress, onQueued: (behind) => evaluating({ waitingBehind: behind ?? undefined }) });
        set((state) => ({ routers: { ...state.routers, items: state.routers.items.map((item) => (item.key === key ? { ...item, evaluation } : item)) } }));
        evaluating({ status: 'done', stage: undefined, waitingBehind: undefined });
      } catch (error) {
        const report = toErrorReport(error);
        evaluating({ status: controller.signal.aborted || report.code === 'CANCELLED' ? 'cancelled' : 'failed', ...(controller.signal.aborted ? {} : { error: report }), stage: undefined, waitingBehind: undefined });
      } finally {
        if (evalAbort === controller) evalAbort = undefined;
      }
    },

    cancelRouterEvaluation() {
      evalAbort?.abort();
    },
  };
};
