import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import { isExperimentItem, type Json } from '../../store/storage.ts';
import { latestCheckpointMeta, type CheckpointMeta } from '../../train/checkpoint.ts';
import type { PrepareProgress } from '../../train/prepare.ts';
import type { EvalEvent, EvalProgress } from '../../train/run.ts';
import type { MixtureEvent } from '../../train/run-control.ts';
import type { StepRecord } from '../../train/trainer.ts';
import { runChannelName, type RunBroadcast, type RunRecord, type TrainProgress } from '../../../workers/protocol.ts';
import { cancelRequests, forgetCancelRequest, rememberCancelRequest, settledRunRecord } from '../../studio/cancel-requests.ts';
import { createFrameBatcher, type FrameBatcher } from '../frame-batcher.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * The Train page's run: one run at a time, driven through the worker's train.run / train.pause and
 * cancelled by aborting the request. Progress events are batched per animation frame (frame-batcher)
 * so a fast GPU's hundreds of steps a second cost one store update a frame. The store keeps per-step
 * scalars (loss, rate, norm), never tensors; charts downsample them.
 *
 * After a reload the last run is read back from the "runs" store the worker writes, with its step
 * history from the checkpoint, so its charts reappear and a run that was paused or cut off by the
 * reload can be resumed from its last checkpoint.
 */

export type TrainStatus =
  | 'idle'
  /** train.run is in flight (loading the model, preparing data, training, evaluating, exporting). */
  | 'running'
  | 'pausing'
  | 'paused'
  /** Read back after a reload: the run was training when the page went away. */
  | 'interrupted'
  /** Another tab of the studio is training this run (it holds the run's lock): shown here read-only, live. */
  | 'watching'
  | 'completed'
  | 'failed'
  | 'cancelled';

export type TrainStage = 'model' | 'data' | 'train' | 'evaluate' | 'export';

/** One optimizer step as the charts need it. Non-finite numbers (a skipped step) are null. */
export interface StepPoint {
  step: number;
  loss: number | null;
  /** Per task, in the recipe's task order; null for a task not drawn in this step. */
  taskLosses: (number | null)[];
  lr: number;
  gradNorm: number | null;
  tokensPerSecond: number | null;
  skipped: boolean;
}

export interface TrainRun {
  status: TrainStatus;
  runId?: string;
  name: string;
  /** The recipe the run was started with (raw JSON, as sent): resuming must send the same one. */
  recipe?: unknown;
  taskNames: string[];
  stage?: TrainStage;
  prepare?: PrepareProgress;
  /** An evaluation under way (mid-run or final): which task, examples done of total. */
  evaluating?: EvalProgress;
  /** What the engine changed and said so (max_length clamped to the model's context). */
  notices?: string[];
  step: number;
  totalSteps: number;
  etaSeconds?: number;
  tokensPerSecond?: number;
  gpuBytes?: number;
  /** The latest checkpoint's step: where a resumed run continues. */
  checkpointStep?: number;
  history: StepPoint[];
  evaluations: EvalEvent[];
  adapterKeys: string[];
  /** Adaptive mixing: the probabilities at the start and after each evaluation, with the reasons for changes. */
  mixture?: MixtureEvent[];
  /** best_checkpoint: the best evaluation so far (at the end: the one whose adapters were exported). */
  best?: { step: number; score: number };
  stoppedEarly?: { step: number; reason: string };
  error?: ErrorReport;
}

export interface TrainSlice {
  train: TrainRun;
  /** Starts a new run of the studio's recipe. */
  startTraining(): Promise<void>;
  /** Asks the running run to checkpoint and stop; it resolves as "paused". */
  pauseTraining(): Promise<void>;
  /**
   * Continues a paused or interrupted run from its checkpoint, with the recipe it started with.
   * `takeOver`: the run belongs to another tab (also one being watched); wait for that tab to let go of it, then resume here.
   */
  resumeTraining(options?: { takeOver?: boolean }): Promise<void>;
  cancelTraining(): void;
  /** Reads the last run back from storage (once per visit, and only while nothing is running). */
  restoreLastRun(): Promise<void>;
}

export const IDLE_RUN: TrainRun = { status: 'idle', name: '', taskNames: [], step: 0, totalSteps: 0, history: [], evaluations: [], adapterKeys: [] };

/** Statuses in which the worker is working on the run and no new one may start. */
export const ACTIVE_STATUSES: readonly TrainStatus[] = ['running', 'pausing'];

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

export function toStepPoint(record: StepRecord & { tokensPerSecond?: number }): StepPoint {
  return {
    step: record.step,
    loss: finiteOrNull(record.loss),
    taskLosses: record.taskLosses.map((loss) => (loss === null ? null : finiteOrNull(loss))),
    lr: record.lr,
    gradNorm: finiteOrNull(record.gradNorm),
    tokensPerSecond: finiteOrNull(record.tokensPerSecond ?? record.tokens / record.seconds),
    skipped: record.skipped,
  };
}

/** Adds a point, dropping any at or after its step first (a resumed run replays from its checkpoint). */
function appendPoint(history: StepPoint[], point: StepPoint): void {
  while (history.length > 0 && history[history.length - 1]!.step >= point.step) history.pop();
  history.push(point);
}

/** Evaluations in step order, one per step (a later one of the same step replaces the earlier). */
export function mergeEvaluation(evaluations: readonly EvalEvent[], evaluation: EvalEvent): EvalEvent[] {
  return [...evaluations.filter((e) => e.step !== evaluation.step), evaluation].sort((a, b) => a.step - b.step);
}

/** The run after a batch of progress events: the one place worker progress becomes state. */
export function applyProgress(run: TrainRun, events: readonly TrainProgress[]): TrainRun {
  const next: TrainRun = { ...run };
  let history: StepPoint[] | undefined;
  for (const event of events) {
    switch (event.kind) {
      case 'stage':
        next.stage = event.stage;
        if (event.stage !== 'data') delete next.prepare;
        break;
      case 'prepare':
        next.prepare = event.progress;
        break;
      case 'eval-progress':
        next.evaluating = event.progress;
        break;
      case 'notice':
        next.notices = [...(next.notices ?? []), event.message];
        break;
      case 'step': {
        const { step } = event;
        delete next.evaluating;
        history ??= [...run.history];
        appendPoint(history, toStepPoint(step));
        next.step = step.step;
        next.totalSteps = step.totalSteps;
        next.etaSeconds = step.etaSeconds;
        next.tokensPerSecond = step.tokensPerSecond;
        next.gpuBytes = step.gpuBytes;
        break;
      }
      case 'eval':
        delete next.evaluating;
        next.evaluations = mergeEvaluation(next.evaluations, event.eval);
        break;
      case 'checkpoint':
        next.checkpointStep = event.step;
        break;
      case 'mixture':
        next.mixture = [...(next.mixture ?? []).filter((point) => point.step < event.mixture.step), event.mixture];
        break;
      case 'best':
        next.best = { step: event.best.step, score: event.best.score };
        break;
      case 'early_stop':
        next.stoppedEarly = { step: event.step, reason: event.reason };
        break;
    }
  }
  if (history) next.history = history;
  return next;
}

/** Task names of a recipe held as raw JSON (a run record's), without trusting its shape. */
export function taskNamesOf(recipe: unknown): string[] {
  const tasks = (recipe as { tasks?: unknown } | null)?.tasks;
  return Array.isArray(tasks) ? tasks.map((task, i) => String((task as { name?: unknown } | null)?.name ?? `task ${i + 1}`)) : [];
}

/**
 * The run as the page shows it after a reload, from its record and its checkpoint. A cancelled run's
 * record keeps the CANCELLED report the worker ended it with; that is how it ended, not an error to show.
 */
export function restoredRun(record: RunRecord, checkpoint: Pick<CheckpointMeta, 'step' | 'history'> | undefined): TrainRun {
  const status: TrainStatus = record.status === 'running' ? 'interrupted' : record.status;
  return {
    status,
    runId: record.runId,
    name: record.name,
    recipe: record.recipe,
    taskNames: taskNamesOf(record.recipe),
    step: status === 'interrupted' || status === 'paused' ? (checkpoint?.step ?? 0) : record.step,
    totalSteps: record.totalSteps,
    ...(checkpoint ? { checkpointStep: checkpoint.step } : {}),
    history: (checkpoint?.history ?? []).map((record) => toStepPoint(record as StepRecord)),
    evaluations: [...record.evaluations].sort((a, b) => a.step - b.step),
    adapterKeys: record.adapterKeys,
    ...(record.error && status !== 'cancelled' ? { error: record.error } : {}),
  };
}

/**
 * Whether a run can continue from its checkpoint: a paused or interrupted one always (without a
 * checkpoint it starts from step 0), a failed or cancelled one when it has a checkpoint to continue from.
 */
/** Whether another tab of this studio holds run `runId`'s lock, i.e. is training it now. */
async function trainedInAnotherTab(runId: string): Promise<boolean> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return false;
  const { held = [] } = await locks.query();
  return held.some((lock) => lock.name === runChannelName(runId));
}

export function canResume(run: Pick<TrainRun, 'status' | 'checkpointStep'>): boolean {
  if (run.status === 'paused' || run.status === 'interrupted') return true;
  return (run.status === 'failed' || run.status === 'cancelled') && (run.checkpointStep ?? 0) > 0;
}

/** A run id people can read in the library: the recipe's name and the start time, plus a few random letters. */
export function newRunId(name: string, now = new Date()): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'run';
  const time = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${slug}-${time}-${Math.random().toString(36).slice(2, 6)}`;
}

export const createTrainSlice: StateCreator<AppState, [], [], TrainSlice> = (set, get) => {
  let request: { abort: AbortController; batcher: FrameBatcher<TrainProgress> } | undefined;
  let restoreChecked = false;
  /** Stops following a run another tab trains; set while this tab watches one. */
  let stopWatching: (() => void) | undefined;

  const update = (change: Partial<TrainRun> | ((run: TrainRun) => TrainRun)) =>
    set((state) => ({ train: typeof change === 'function' ? change(state.train) : { ...state.train, ...change } }));

  /**
   * Follows run `runId`, which another tab trains: its progress events arrive on the run's
   * BroadcastChannel (workers/run-broadcast.ts) and go through the same applyProgress as this tab's
   * own; its end sets how it ended. A tab closed without a word lets go of the run's lock: then the
   * run is read back as interrupted, to be resumed here.
   */
  const watch = (runId: string) => {
    stopWatching?.();
    const channel = new BroadcastChannel(runChannelName(runId));
    const released = new AbortController();
    const batcher = createFrameBatcher<TrainProgress>((events) => update((run) => (run.status === 'watching' && run.runId === runId ? applyProgress(run, events) : run)));
    const stop = () => {
      channel.close();
      released.abort();
      batcher.dispose();
      if (stopWatching === stop) stopWatching = undefined;
    };
    stopWatching = stop;
    channel.onmessage = (event: MessageEvent<RunBroadcast>) => {
      const message = event.data;
      if (message.kind === 'progress') return batcher.push(message.event);
      batcher.flush();
      stop();
      update((run) => {
        if (run.status !== 'watching' || run.runId !== runId) return run;
        const { error: _error, ...rest } = run;
        return { ...rest, status: message.status, step: message.step, ...(message.error && message.status === 'failed' ? { error: message.error } : {}), ...(message.status === 'paused' ? { checkpointStep: message.step } : {}) };
      });
    };
    // Granted once the owner lets go: at its end (the 'ended' message came first) or when its tab closed.
    void navigator.locks
      .request(runChannelName(runId), { signal: released.signal }, async () => {
        if (stopWatching !== stop) return;
        stop();
        // The owner wrote how the run ended before letting go; a record still "running" is read back as interrupted.
        const storage = await openIndexedDbStorage();
        try {
          const record = (await storage.getInfo('runs', runId))?.meta as RunRecord | undefined;
          const checkpoint = await latestCheckpointMeta(storage, runId);
          if (record) update((run) => (run.status === 'watching' && run.runId === runId ? restoredRun(record, checkpoint) : run));
        } finally {
          await storage.close();
        }
      })
      .catch(() => undefined);
  };

  /** Sends train.run for the run now in the store and follows it to its end. */
  const follow = async (resume: boolean, takeOver = false) => {
    const { runId, recipe } = get().train;
    if (!runId) return;
    const abort = new AbortController();
    const batcher = createFrameBatcher<TrainProgress>((events) => update((run) => applyProgress(run, events)));
    const own = { abort, batcher };
    request = own;
    const hub = hubSettingsOf(get());
    // Only a budget the user set on the Model page refuses a run; the default is a guess from the adapter.
    const budget = get().memoryBudgetBytes;
    try {
      const result = await get()
        .engine()
        .request('train.run', { recipe, runId, resume, ...(takeOver ? { takeOver } : {}), ...hub, ...(budget ? { memoryBudgetBytes: budget } : {}) }, { signal: abort.signal, onProgress: (event) => batcher.push(event) });
      batcher.flush();
      update(({ error: _pauseError, ...run }) => ({
        ...run,
        status: result.status,
        step: result.step,
        totalSteps: result.totalSteps,
        adapterKeys: result.adapterKeys,
        ...(result.best ? { best: result.best } : {}),
        ...(result.stoppedEarly ? { stoppedEarly: result.stoppedEarly } : {}),
        ...(result.status === 'paused' ? { checkpointStep: result.step } : {}),
      }));
    } catch (error) {
      batcher.flush();
      const report = toErrorReport(error);
      update(report.code === 'CANCELLED' ? { status: 'cancelled' } : { status: 'failed', error: report });
    } finally {
      batcher.dispose();
      // The request settles after the worker wrote how the run ended: a cancel asked for is on record.
      forgetCancelRequest(runId);
      if (request === own) request = undefined;
    }
  };

  return {
    train: IDLE_RUN,

    async startTraining() {
      const { recipe, recipeProblems, train } = get();
      if (recipeProblems.length > 0 || ACTIVE_STATUSES.includes(train.status)) return;
      stopWatching?.();
      const name = recipe.name?.trim() || 'Untitled recipe';
      restoreChecked = true;
      set({ train: { ...IDLE_RUN, status: 'running', runId: newRunId(name), name, recipe, taskNames: recipe.tasks.map((task) => task.name), totalSteps: recipe.steps ?? 0 } });
      await follow(false);
    },

    async pauseTraining() {
      const { runId, status, stage } = get().train;
      // Before the training loop starts there is no step to checkpoint: stopping then is a cancel.
      if (!runId || status !== 'running' || stage !== 'train') return;
      update({ status: 'pausing' });
      try {
        const { paused } = await get().engine().request('train.pause', { runId });
        // Not running in the worker any more: the run's own request has already settled, or is about to.
        if (!paused) update((run) => (run.status === 'pausing' ? { ...run, status: 'running' } : run));
      } catch (error) {
        update((run) => (run.status === 'pausing' ? { ...run, status: 'running', error: toErrorReport(error) } : run));
      }
    },

    async resumeTraining(options = {}) {
      const before = get().train;
      const takingOverWatched = before.status === 'watching' && options.takeOver === true;
      if (!canResume(before) && !takingOverWatched) return;
      stopWatching?.();
      restoreChecked = true;
      update((run) => {
        const { error: _error, ...rest } = run;
        return { ...rest, status: 'running', adapterKeys: [] };
      });
      await follow(true, options.takeOver === true);
      // Another tab owns the run: nothing here changed it.
      const after = get().train;
      if (after.status === 'failed' && after.error?.code === 'RUN_OWNED_ELSEWHERE' && before.runId) {
        // The answer names who owns it; meanwhile this tab follows that run, read-only.
        update({ status: 'watching' });
        watch(before.runId);
      }
    },

    cancelTraining() {
      const { status, runId } = get().train;
      if (!ACTIVE_STATUSES.includes(status)) return;
      // Written before the worker hears of it, so a page closed right after Cancel still reads the run back as cancelled.
      if (runId) rememberCancelRequest(runId);
      request?.abort.abort();
    },

    async restoreLastRun() {
      if (restoreChecked) return;
      restoreChecked = true;
      try {
        const storage = await openIndexedDbStorage();
        try {
          const runs = await storage.list<Json>('runs');
          const recorded = runs.filter((info) => !isExperimentItem(info.key)).map((info) => info.meta as unknown as RunRecord).sort((a, b) => b.updatedAt - a.updatedAt)[0];
          if (!recorded) return;
          const last = settledRunRecord(recorded, cancelRequests());
          if (last !== recorded) {
            await storage.put('runs', last.runId, last as unknown as Json);
            forgetCancelRequest(last.runId);
          }
          const checkpoint = await latestCheckpointMeta(storage, last.runId);
          if (get().train.status !== 'idle') return;
          if (last.status === 'running' && (await trainedInAnotherTab(last.runId))) {
            // Not interrupted: another tab is training it now. Shown read-only, from where its record is, and followed live.
            set({ train: { ...restoredRun(last, checkpoint), status: 'watching', step: last.step } });
            watch(last.runId);
          } else set({ train: restoredRun(last, checkpoint) });
        } finally {
          await storage.close();
        }
      } catch (error) {
        if (get().train.status === 'idle') update({ error: toErrorReport(error) });
      }
    },
  };
};
