/**
 * The one definition of the messages between the studio (UI thread) and the engine worker.
 *
 * Every message carries the protocol version `v`. The UI sends a request {v, id, type, payload};
 * the worker answers it with exactly one `result` or `error` carrying the same id, and may send
 * `progress` events for it in between. Events that belong to no request (ready, device lost, an
 * unknown message) have no id. A message of an unknown type or another version gets an `error`
 * event back, never silence.
 */
import type { ErrorReport } from '../app/errors.ts';
import type { GpuInfo } from '../app/gpu/device.ts';
import type { SelfTestProgress, SelfTestReport } from '../app/gpu/selftest.ts';
import type { ImportFileOptions } from '../app/data/import/import-file.ts';
import type { ImportProgress } from '../app/data/import/types.ts';
import type { ValidationReport } from '../app/data/validate.ts';
import type { PrepareProgress } from '../app/train/prepare.ts';
import type { EvalEvent, StepEvent } from '../app/train/run.ts';

export const PROTOCOL_VERSION = 1;

/** Request type -> [payload, result, progress]. Add a command here and the bridge and worker follow. */
export interface Commands {
  /** Acquires the GPU (once) and describes it. */
  'gpu.info': { payload: Record<string, never>; result: GpuInfo; progress: never };
  /** Runs the lora_linear self-test on this GPU. */
  'gpu.selftest': { payload: Record<string, never>; result: SelfTestReport; progress: SelfTestProgress };
  /** Imports a task file into the studio's storage (as `file/<name>`), reporting rows, columns and problems. */
  'data.import': {
    payload: { name: string; file: Blob; options?: Pick<ImportFileOptions, 'format' | 'delimiter' | 'header' | 'splitting'> };
    result: DataImportResult;
    progress: ImportProgress;
  };
  /**
   * Runs a recipe (raw JSON, validated in the worker) under `runId`: models and task files come from
   * the studio's storage (Hub downloads are cached there). Resumes from the run's checkpoint when asked.
   */
  'train.run': { payload: { recipe: unknown; runId: string; resume: boolean; hubEndpoint?: string }; result: TrainRunResult; progress: TrainProgress };
  /** Pauses a running run: it checkpoints and its train.run request resolves with status "paused". */
  'train.pause': { payload: { runId: string }; result: { paused: boolean }; progress: never };
}

export interface DataImportResult {
  name: string;
  rows: number;
  columns: string[];
  format: string;
  /** The first rows, for the preview and the column mapping. */
  preview: { row: number; values: Record<string, unknown> }[];
  report: ValidationReport;
}

export interface TrainRunResult {
  status: 'completed' | 'paused';
  step: number;
  totalSteps: number;
  /** Keys in the "adapters" store of the exported PEFT adapters (zip). */
  adapterKeys: string[];
}

export type TrainProgress =
  | { kind: 'stage'; stage: 'model' | 'data' | 'train' | 'evaluate' | 'export' }
  | { kind: 'prepare'; progress: PrepareProgress }
  | { kind: 'step'; step: StepEvent }
  | { kind: 'eval'; eval: EvalEvent }
  | { kind: 'checkpoint'; step: number };

export type CommandType = keyof Commands;

export type Request = {
  [K in CommandType]: { v: number; id: number; type: K; payload: Commands[K]['payload'] };
}[CommandType];

/** Asks the worker to abort request `id`; it then answers that request with a CANCELLED error. */
export interface CancelMessage {
  v: number;
  type: 'cancel';
  id: number;
}

export type ToWorker = Request | CancelMessage;

export type WorkerEvent =
  | { v: number; type: 'ready' }
  | { v: number; type: 'result'; id: number; result: unknown }
  | { v: number; type: 'progress'; id: number; progress: unknown }
  | { v: number; type: 'error'; id?: number; error: ErrorReport }
  /** The GPU device is gone; every later GPU command must re-acquire it. */
  | { v: number; type: 'device-lost'; error: ErrorReport };

export const COMMAND_TYPES: readonly CommandType[] = ['gpu.info', 'gpu.selftest', 'data.import', 'train.run', 'train.pause'];

export function isCommandType(type: unknown): type is CommandType {
  return typeof type === 'string' && (COMMAND_TYPES as readonly string[]).includes(type);
}
