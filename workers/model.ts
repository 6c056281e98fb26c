/**
 * model.load and model.plan inside the engine worker: a model downloaded into (or found in) storage
 * and described, and what a training configuration of it needs on this GPU.
 */
import type { GpuContext } from '../app/gpu/device.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { cachedFileSize, type HubProgress } from '../app/model/hub.ts';
import { estimateTrainingMemory, type MemoryEstimate, type TrainingShape } from '../app/model/memory.ts';
import { readJsonFile } from '../app/model/source.ts';
import type { Storage } from '../app/store/storage.ts';
import { modelLabel, ONNX_EXPORT, openModelFiles } from './model-files.ts';
import { requireSize, summarizeModel } from './model-summary.ts';
import type { Commands, ModelSummary, TrainingPlanRequest } from './protocol.ts';
import { everyInterval, PROGRESS_INTERVAL_MS } from './progress.ts';


export async function loadStudioModel(request: Commands['model.load']['payload'], storage: Storage, signal: AbortSignal, progress: (progress: HubProgress) => void): Promise<ModelSummary> {
  const send = everyInterval<{ done: number; total: number; event: HubProgress }>(PROGRESS_INTERVAL_MS, ({ event }) => progress(event));
  const files = await openModelFiles(storage, request, {
    ...(request.hubEndpoint ? { hubEndpoint: request.hubEndpoint } : {}),
    ...(request.hubToken ? { hubToken: request.hubToken } : {}),
    signal,
    onProgress: (event) => send({ done: event.loaded, total: event.total ?? Infinity, event }),
    extraFiles: [ONNX_EXPORT],
  });
  const label = modelLabel(request);
  return summarizeModel(files, { source: request.source, revision: request.revision, label }, requireSize(label, (path) => cachedFileSize(storage, request.source, request.revision, path)));
}

/** The estimator with the model's config (from storage: load the model first) and this GPU's real per-buffer limits. */
export async function planTraining(request: Commands['model.plan']['payload'], storage: Storage, ctx: GpuContext): Promise<MemoryEstimate> {
  const files = await openModelFiles(storage, request, { offline: true });
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  return estimateTrainingMemory(
    config,
    planShape(request.plan),
    { maxBufferSize: ctx.info.limits.maxBufferSize!, maxStorageBufferBindingSize: ctx.info.limits.maxStorageBufferBindingSize! },
    request.plan.budgetBytes,
  );
}

/** The planner's shape for a plan request of the Model or Train page. */
export function planShape(plan: TrainingPlanRequest): TrainingShape {
  return {
    batchSize: plan.batchSize,
    seqLength: plan.seqLength,
    weightDtype: plan.dtype,
    ...(plan.tableDtype ? { tableDtype: plan.tableDtype } : {}),
    ...(plan.int4 ? { int4: plan.int4 } : {}),
    lora: { r: plan.r, targets: plan.targets },
    adapters: plan.adapters,
    recompute: plan.recompute,
    ...(plan.gradAccum !== undefined ? { gradAccum: plan.gradAccum } : {}),
    ...(plan.evaluation ? { evaluation: plan.evaluation } : {}),
    ...(plan.generation ? { generation: plan.generation } : {}),
  };
}
