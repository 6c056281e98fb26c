/**
 * The owner's side of a run shown in other tabs. The tab whose engine trains a run (it holds the run's
 * Web Lock, run-lock.ts) posts each progress event and then how the run ended on the run's
 * BroadcastChannel; the studio's other tabs follow it there read-only and live (app/state/slices/train.ts).
 * Where there is no BroadcastChannel nothing is posted: there is no other tab to tell.
 */
import { toErrorReport } from '../app/errors.ts';
import { runChannelName, type RunBroadcast, type TrainProgress, type TrainRunResult } from './protocol.ts';

export interface RunBroadcaster {
  progress(event: TrainProgress): void;
  /** Posts how the run ended (its result, or the error that ended it) and closes the channel. */
  ended(outcome: { result: TrainRunResult } | { error: unknown }): void;
}

export function broadcastRun(runId: string): RunBroadcaster {
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(runChannelName(runId)) : undefined;
  let step = 0;
  const post = (message: RunBroadcast) => channel?.postMessage(message);
  return {
    progress(event) {
      if (event.kind === 'step') step = event.step.step;
      post({ kind: 'progress', event });
    },
    ended(outcome) {
      if ('result' in outcome) post({ kind: 'ended', status: outcome.result.status, step: outcome.result.step });
      else {
        const error = toErrorReport(outcome.error);
        post({ kind: 'ended', status: error.code === 'CANCELLED' ? 'cancelled' : 'failed', step, error });
      }
      channel?.close();
    },
  };
}
