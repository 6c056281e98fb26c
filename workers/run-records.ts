/**
 * Run records: what the "runs" store keeps per run (key: run id, meta: RunRecord), so the studio can
 * list runs, compare their evaluations and offer to resume one after a reload. The step history for
 * the charts lives in the run's checkpoint (checkpoints store, meta.history), not here.
 *
 * A record is written when the run starts (running), after each evaluation and checkpoint, and when
 * it ends (completed, paused, cancelled, or failed with the error). A record still "running" when no
 * engine runs it belongs to a run the page lost (a reload, a crash): it resumes from its checkpoint.
 * A resumed run keeps the evaluations of its earlier part, minus any made after the checkpoint it
 * resumed from (those steps are trained again and evaluated again).
 */
import { toErrorReport } from '../app/errors.ts';
import type { Json, Storage } from '../app/store/storage.ts';
import type { EvalEvent } from '../app/train/run.ts';
import type { RunRecord } from './protocol.ts';

export async function readRunRecord(storage: Storage, runId: string): Promise<RunRecord | undefined> {
  return (await storage.getInfo('runs', runId))?.meta as RunRecord | undefined;
}

export class RunRecorder {
  private constructor(
    private readonly storage: Storage,
    private record: RunRecord,
    private firstStep: boolean,
  ) {}

  /** Writes the "running" record; a resumed run starts from its earlier record. */
  static async start(storage: Storage, request: { runId: string; recipe: unknown; resume: boolean }, facts: { name: string; totalSteps: number }, now = Date.now()): Promise<RunRecorder> {
    const earlier = request.resume ? await readRunRecord(storage, request.runId) : undefined;
    const record: RunRecord = {
      runId: request.runId,
      name: facts.name,
      recipe: request.recipe,
      status: 'running',
      step: earlier?.step ?? 0,
      totalSteps: earlier?.totalSteps || facts.totalSteps,
      startedAt: earlier?.startedAt ?? now,
      updatedAt: now,
      evaluations: earlier?.evaluations ?? [],
      adapterKeys: [],
    };
    const recorder = new RunRecorder(storage, record, true);
    await recorder.write();
    return recorder;
  }

  get current(): RunRecord {
    return this.record;
  }

  /** Steps are kept in memory and written with the next evaluation, checkpoint or end. */
  step(step: number, totalSteps: number): void {
    if (this.firstStep) {
      // The first step after a resume follows the checkpoint: later evaluations are of a discarded future.
      this.firstStep = false;
      this.record = { ...this.record, evaluations: this.record.evaluations.filter((evaluation) => evaluation.step < step) };
    }
    this.record = { ...this.record, step, totalSteps };
  }

  async evaluation(event: EvalEvent): Promise<void> {
    const kept = this.record.evaluations.filter((evaluation) => evaluation.step < event.step);
    this.record = { ...this.record, evaluations: [...kept, event] };
    await this.write();
  }

  async checkpoint(step: number): Promise<void> {
    this.record = { ...this.record, step };
    await this.write();
  }

  async end(result: { status: 'completed' | 'paused'; step: number; totalSteps: number; adapterKeys: string[] }): Promise<void> {
    this.record = { ...this.record, ...result };
    await this.write();
  }

  async fail(error: unknown): Promise<void> {
    const report = toErrorReport(error);
    this.record = { ...this.record, status: report.code === 'CANCELLED' ? 'cancelled' : 'failed', error: report };
    await this.write();
  }

  private async write(): Promise<void> {
    this.record = { ...this.record, updatedAt: Date.now() };
    await this.storage.put('runs', this.record.runId, this.record as unknown as Json);
  }
}
