/**
 * Everything the Evaluate page can show or compare, as one list in the order things happened: each
 * run's final (or latest) evaluation from the "runs" store, oldest run first, then the evaluations
 * made on the page (kept across visits, oldest first).
 */
import type { EvalEvent } from '../train/run.ts';
import type { RunRecord } from '../../workers/protocol.ts';
import { finalEvaluation } from './compare-runs.ts';

export interface EvaluationSource {
  /** "run:<runId>" or the page evaluation's id. */
  id: string;
  label: string;
  /** One line on where the numbers come from. */
  detail: string;
  evaluation: EvalEvent;
  runId?: string;
}

export interface PageEvaluation {
  id: string;
  label: string;
  model: string;
  evaluation: EvalEvent;
}

export function evaluationSources(runs: readonly RunRecord[], evaluations: readonly PageEvaluation[]): EvaluationSource[] {
  const fromRuns = [...runs].sort((a, b) => a.startedAt - b.startedAt).flatMap((run): EvaluationSource[] => {
    const evaluation = finalEvaluation(run.evaluations ?? []);
    if (!evaluation) return [];
    const final = run.status === 'completed' && evaluation.step >= run.totalSteps;
    return [
      {
        id: `run:${run.runId}`,
        label: run.name || run.runId,
        detail: `${final ? 'final evaluation' : `evaluation at step ${evaluation.step}`} of run ${run.runId} (${run.status}, step ${run.step} of ${run.totalSteps})`,
        evaluation,
        runId: run.runId,
      },
    ];
  });
  const fromPage = evaluations.map((evaluation): EvaluationSource => ({ id: evaluation.id, label: evaluation.label, detail: `evaluated on this page, ${evaluation.model}`, evaluation: evaluation.evaluation }));
  return [...fromRuns, ...fromPage];
}
