import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { DEFAULT_SEEDS, validateExperiment, type BudgetRule, type DesignName, type ExperimentSpec } from '../../experiment/design.ts';
import type { ExperimentReport } from '../../experiment/export.ts';
import type { ArmProgress } from '../../experiment/runner.ts';
import { parseRecipe } from '../../train/recipe.ts';
import type { ExperimentProgress, ExperimentRequest } from '../../../workers/protocol.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/** The experiment the page shows, remembered across reloads (its arms live in storage). */
const CURRENT_KEY = 'cocktail.experiment.current';

export interface ExperimentForm {
  targets: string[];
  designs: DesignName[];
  seeds: number;
  budget: BudgetRule;
  /** Incremental order, comma-separated task names; empty: the recipe's order. */
  order: string;
  /** The custom design's task sets, comma-separated, each set's tasks joined with + ("a+b, a+c"). */
  custom: string;
}

export interface ExperimentState {
  status: 'idle' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
  /** The experiment shown: its id and the request it was started with (its recipe is fixed then). */
  request?: ExperimentRequest;
  form: ExperimentForm;
  stage?: string;
  plan?: Extract<ExperimentProgress, { kind: 'plan' }>;
  current?: { arm: string; seed: number; run: number; runs: number };
  step?: ArmProgress;
  warning?: string;
  /** The report of the finished arms, refreshed as each arm finishes. */
  report?: ExperimentReport;
  error?: ErrorReport;
}

export interface ExperimentSlice {
  experiment: ExperimentState;
  setExperimentForm(change: Partial<ExperimentForm>): void;
  /** The spec the form describes on the studio's recipe; throws the reason it cannot run. */
  experimentSpec(): ExperimentSpec;
  startExperiment(): Promise<void>;
  /** Continues the experiment shown (after a pause or a reload), with the recipe it started with. */
  resumeExperiment(): Promise<void>;
  pauseExperiment(): Promise<void>;
  cancelExperiment(): void;
  /** Reads the remembered experiment back from storage after a reload. */
  restoreExperiment(): Promise<void>;
  /** Forgets the experiment shown (its arms stay in storage), to design a new one. */
  newExperiment(): void;
}

/** The spec a form describes on a recipe; throws the reason it cannot run (before anything runs). */
export function experimentSpecOf(recipe: unknown, form: ExperimentForm): ExperimentSpec {
  const order = form.order
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const custom = form.custom
    .split(',')
    .map((set) => set.split('+').map((name) => name.trim()).filter(Boolean))
    .filter((set) => set.length > 0);
  const spec: ExperimentSpec = {
    recipe: parseRecipe(recipe, 'the studio’s recipe'),
    targets: form.targets,
    designs: form.designs,
    seeds: form.seeds,
    budget: form.budget,
    ...(order.length > 0 ? { order } : {}),
    ...(form.designs.includes('custom') ? { custom } : {}),
  };
  validateExperiment(spec);
  return spec;
}

function rememberCurrent(id: string | undefined): void {
  try {
    if (id) localStorage.setItem(CURRENT_KEY, id);
    else localStorage.removeItem(CURRENT_KEY);
  } catch {
    // Storage disabled: the experiment still runs; a reload will not find it again.
  }
}

function rememberedCurrent(): string | null {
  try {
    return localStorage.getItem(CURRENT_KEY);
  } catch {
    return null;
  }
}

export const createExperimentSlice: StateCreator<AppState, [], [], ExperimentSlice> = (set, get) => {
  let abort: AbortController | undefined;
  const update = (change: Partial<ExperimentState>) => set((state) => ({ experiment: { ...state.experiment, ...change } }));

  const refresh = async (id: string) => {
    const snapshot = await get().engine().request('experiment.load', { id });
    if (snapshot) update({ report: snapshot.report });
  };

  const onProgress = (id: string) => (progress: ExperimentProgress) => {
    switch (progress.kind) {
      case 'stage':
        update({ stage: progress.stage });
        break;
      case 'prepare':
        update({ stage: `preparing ${progress.progress.task}` });
        break;
      case 'plan':
        update({ plan: progress, stage: 'train' });
        break;
      case 'arm':
        update({ current: progress, step: undefined });
        break;
      case 'step':
        update({ step: progress.step });
        break;
      case 'arm-done':
        void refresh(id).catch(() => undefined);
        break;
      case 'warning':
        update({ warning: progress.message });
        break;
    }
  };

  const run = async (request: ExperimentRequest, resume: boolean) => {
    if (get().experiment.status === 'running') return;
    const controller = new AbortController();
    abort = controller;
    rememberCurrent(request.id);
    update({ status: 'running', request, error: undefined, warning: undefined, stage: 'model', current: undefined, step: undefined });
    try {
      const result = await get()
        .engine()
        .request('experiment.run', { ...request, resume, ...hubSettingsOf(get()) }, { signal: controller.signal, onProgress: onProgress(request.id) });
      update({ status: result.status, report: result.report, step: undefined, stage: undefined });
    } catch (error) {
      const report = toErrorReport(error);
      update({ status: report.code === 'CANCELLED' || controller.signal.aborted ? 'cancelled' : 'failed', error: report, stage: undefined });
    } finally {
      if (abort === controller) abort = undefined;
    }
  };

  return {
    experiment: { status: 'idle', form: { targets: [], designs: ['single', 'all'], seeds: DEFAULT_SEEDS, budget: 'steps', order: '', custom: '' } },

    setExperimentForm(change) {
      update({ form: { ...get().experiment.form, ...change } });
    },

    experimentSpec() {
      return experimentSpecOf(get().recipe, get().experiment.form);
    },

    async startExperiment() {
      let spec: ExperimentSpec;
      try {
        spec = get().experimentSpec();
      } catch (error) {
        update({ error: toErrorReport(error) });
        return;
      }
      const id = `${(spec.recipe.name ?? 'experiment').replace(/[^\w.-]+/g, '-')}-${Date.now().toString(36)}`;
      const { recipe, ...rest } = spec;
      update({ report: undefined, plan: undefined });
      await run({ id, recipe, ...rest }, false);
    },

    async resumeExperiment() {
      const { request } = get().experiment;
      if (request) await run(request, true);
    },

    async pauseExperiment() {
      const { request } = get().experiment;
      if (request) await get().engine().request('experiment.pause', { id: request.id });
    },

    cancelExperiment() {
      abort?.abort();
    },

    async restoreExperiment() {
      const id = rememberedCurrent();
      if (!id || get().experiment.request) return;
      try {
        const snapshot = await get().engine().request('experiment.load', { id });
        if (!snapshot || get().experiment.request) return;
        const { request } = snapshot;
        // "running" in storage after a reload means the page that ran it is gone: it continues on Resume.
        update({
          request,
          report: snapshot.report,
          status: snapshot.status === 'completed' ? 'completed' : 'paused',
          form: { targets: request.targets, designs: request.designs, seeds: request.seeds, budget: request.budget, order: (request.order ?? []).join(', '), custom: (request.custom ?? []).map((set) => set.join('+')).join(', ') },
        });
      } catch (error) {
        update({ error: toErrorReport(error) });
      }
    },

    newExperiment() {
      if (get().experiment.status === 'running') return;
      rememberCurrent(undefined);
      update({ status: 'idle', request: undefined, report: undefined, plan: undefined, current: undefined, step: undefined, error: undefined, warning: undefined });
    },
  };
};
