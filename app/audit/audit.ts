/**
 * The audit of a recipe's prepared tasks: each task on its own (task-audit.ts), then across tasks
 * (cross.ts), then what the mixture will make of their sizes (app/mix's preview), then findings.
 * Tasks that failed to prepare are passed in with their error and reported; the rest are audited.
 */
import type { MixPlan } from '../mix/types.ts';
import { previewMix } from '../mix/preview.ts';
import { auditAcrossTasks } from './cross.ts';
import { crossFindings, mixtureFindings, taskFindings } from './findings.ts';
import { auditTask, DEFAULT_TASK_AUDIT_OPTIONS, type TaskAuditOptions } from './task-audit.ts';
import type { TermCategory } from './terms.ts';
import type { AuditProgress, AuditReport, AuditTaskInput, Finding, TaskAudit } from './types.ts';

export type TaskAuditCore = Omit<TaskAudit, 'expected_examples' | 'expected_epochs'>;

/** Where per-task results are kept between audits (next to the tokenized data: app/train/audit-recipe.ts). */
export interface TaskAuditCache {
  get(task: AuditTaskInput): Promise<TaskAuditCore | undefined>;
  put(task: AuditTaskInput, audit: TaskAuditCore): Promise<void>;
}

export interface AuditOptions extends Partial<Omit<TaskAuditOptions, 'terms'>> {
  terms: readonly TermCategory[];
  /** The run's mixture over the tasks that prepared, for expected examples and epochs; null when it cannot be formed. */
  plan: MixPlan | null;
  /** The model's context (max_position_embeddings): the length findings suggest no max_length beyond it. */
  contextLength?: number;
  cache?: TaskAuditCache;
  signal?: AbortSignal;
  onProgress?: (progress: AuditProgress) => void;
}

export async function runAudit(tasks: readonly AuditTaskInput[], failed: AuditReport['failed'], options: AuditOptions): Promise<AuditReport> {
  const taskOptions: TaskAuditOptions = { ...DEFAULT_TASK_AUDIT_OPTIONS, ...options, terms: options.terms };
  const preview = options.plan ? previewMix(options.plan, { pointCount: 2 }) : null;
  const audits: Record<string, TaskAudit> = {};
  for (const [index, task] of tasks.entries()) {
    const progress = (done: number, total: number): void => options.onProgress?.({ task: task.name, stage: 'audit', done, total });
    let core = await options.cache?.get(task);
    if (core) progress(core.rows, core.rows);
    else {
      core = await auditTask(task, taskOptions, { ...(options.signal ? { signal: options.signal } : {}), onProgress: progress });
      await options.cache?.put(task, core);
    }
    audits[task.name] = { ...core, expected_examples: preview?.expectedExamples[index] ?? null, expected_epochs: preview?.expectedTaskEpochs[index] ?? null };
  }
  const cross = await auditAcrossTasks(tasks, taskOptions.maxExamples, {
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (done, total) => options.onProgress?.({ task: '', stage: 'cross', done, total }),
  });
  const strategy = options.plan?.strategy.kind ?? 'proportional';
  const findings: Finding[] = [
    ...failed.map((failure): Finding => ({ severity: 'error', task: failure.task, kind: 'prepare', message: `"${failure.task}" could not be prepared: ${failure.message}`, action: 'fix the task on the Tasks page; the other tasks were audited', change: null })),
    ...tasks.flatMap((task) => taskFindings(audits[task.name]!, strategy, { maxLength: task.maxLength, ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}) })),
    ...mixtureFindings(Object.values(audits), strategy),
    ...crossFindings({ cross }),
  ];
  const order = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return { tasks: audits, failed, cross, findings };
}
