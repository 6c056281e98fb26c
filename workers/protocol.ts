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
import type { SchemaStatus } from '../app/store/idb.ts';
import type { GpuInfo } from '../app/gpu/device.ts';
import type { DType, FrozenDType, QuantDType } from '../app/gpu/dtype.ts';
import type { Int4Options, QuantizationError } from '../app/model/quantization.ts';
import type { SelfTestProgress, SelfTestReport } from '../app/gpu/selftest.ts';
import type { FileImportOptions } from '../app/data/import/import-settings.ts';
import type { ImportProgress } from '../app/data/import/types.ts';
import type { ValidationReport } from '../app/data/validate.ts';
import type { PrepareProgress } from '../app/train/prepare.ts';
import type { EvalEvent, EvalProgress, StepEvent } from '../app/train/run.ts';
import type { BestEvent, MixtureEvent } from '../app/train/run-control.ts';
import type { AuditProgress, AuditReport } from '../app/audit/index.ts';
import type { HubProgress } from '../app/model/hub.ts';
import type { MemoryEstimate } from '../app/model/memory.ts';
import type { EngineCheck } from '../app/model/verify.ts';
import type { LoraTarget } from '../app/model/config.ts';
import type { RecipeTask } from '../app/train/recipe.ts';
import type { BudgetRule, DesignName } from '../app/experiment/design.ts';
import type { ExperimentReport } from '../app/experiment/export.ts';
import type { ArmProgress } from '../app/experiment/runner.ts';
import type { TokenViewEntry } from '../app/data/tokenize/token-view.ts';
import type { HeadEvaluation } from '../app/route/head.ts';
import type { RouterEvaluation } from '../app/route/evaluate.ts';
import type { RoutedPrompt } from '../app/route/router.ts';
import type { LayerComparison, LayerComparisonProgress } from '../app/route/layers.ts';
import type { Pooling } from '../app/route/features.ts';

export const PROTOCOL_VERSION = 1;

/** Request type -> [payload, result, progress]. Add a command here and the bridge and worker follow. */
export interface Commands {
  /** Acquires the GPU (once) and describes it. */
  'gpu.info': { payload: Record<string, never>; result: GpuInfo; progress: never };
  /** Runs the lora_linear self-test on this GPU. */
  'gpu.selftest': { payload: Record<string, never>; result: SelfTestReport; progress: SelfTestProgress };
  /** Imports a task file into the studio's storage (as `file/<name>`), reporting rows, columns and problems. */
  'data.import': {
    payload: { name: string; file: Blob; options?: FileImportOptions };
    result: DataImportResult;
    progress: ImportProgress;
  };
  /**
   * Downloads a Hub data set's split into the studio's storage (or finds it there) and reads it as
   * data.import reads a file: rows, columns, the first rows and every problem. Training then reads the
   * stored copy.
   */
  'data.hubPreview': { payload: HubSplitRef & HubSettings; result: DataImportResult; progress: { loaded: number; total: number } };
  /**
   * Runs a recipe (raw JSON, validated in the worker) under `runId`: models and task files come from
   * the studio's storage (Hub downloads are cached there). Resumes from the run's checkpoint when asked.
   */
  'train.run': {
    /** `takeOver`: the run belongs to another tab (RUN_OWNED_ELSEWHERE); wait until that tab lets go of it, then resume it here. */
    payload: {
      recipe: unknown;
      runId: string;
      resume: boolean;
      takeOver?: boolean;
      /** The user's GPU memory budget: a run planned past it is refused before its model loads. */
      memoryBudgetBytes?: number;
    } & HubSettings;
    result: TrainRunResult;
    progress: TrainProgress;
  };
  /** Pauses a running run: it checkpoints and its train.run request resolves with status "paused". */
  'train.pause': { payload: { runId: string }; result: { paused: boolean }; progress: never };

  /**
   * Downloads a Hub model into the studio's storage (or finds it there: a second load is offline)
   * and describes it. Nothing is uploaded to the GPU yet. `source` is a Hub id, or `local/<name>` for
   * a model imported with model.importLocal (revision "local").
   */
  'model.load': { payload: ModelRef & HubSettings; result: ModelSummary; progress: HubProgress };
  /**
   * Copies model files the user picked or dropped into storage as `local/<name>` (revision "local"; the
   * name is reduced to letters, digits, "_", "." and "-": use the result's `source`); checks config,
   * weights and tokenizer first, and leaves nothing behind when it fails. `paths` (optional, one per
   * file) are the files' paths inside the model folder, e.g. "onnx/model.onnx"; without them each
   * file's webkitRelativePath minus its top folder is used, else its name. Give them for dropped
   * folders, whose files carry no webkitRelativePath.
   */
  'model.importLocal': { payload: { name: string; files: File[]; paths?: string[] }; result: ModelSummary; progress: { file: string; loaded: number; total: number } };
  /** What a training configuration needs on this GPU, whether it fits, and what to change when not. */
  'model.plan': { payload: ModelRef & { plan: TrainingPlanRequest }; result: MemoryEstimate; progress: never };
  /** The model loaded with int8/int4 projections: each projection's output error on calibration rows (app/model/quant-error.ts). */
  'model.quantError': { payload: ModelRef & { dtype: QuantDType; int4?: Int4Options }; result: QuantizationError; progress: never };
  /** "Verify engine": the same prompt through ONNX Runtime (onnx/model.onnx) and our engine. */
  'model.verify': { payload: ModelRef & HubSettings & { prompt?: string }; result: EngineCheck & { prompt: string }; progress: { stage: 'download' | 'onnx' | 'engine' } };
  /** Generates from the model, with an adapter from the library or without; streams text. */
  'model.generate': { payload: GenerateRequest; result: GenerateResponse; progress: { id: number; text: string } };
  /** Tokenizes the first rows of an imported task file as training would, for the token view. */
  'data.tokenView': { payload: TokenViewRequest; result: TokenViewResult; progress: PrepareProgress };
  /**
   * Runs (or with `resume`, continues) an experiment: arms of the recipe's tasks over seeds
   * (app/experiment). Its finished arms are kept in the "runs" store as they finish.
   */
  'experiment.run': { payload: ExperimentRequest & { resume: boolean } & HubSettings; result: ExperimentRunResult; progress: ExperimentProgress };
  /** Pauses a running experiment: the arm in progress checkpoints and experiment.run resolves "paused". */
  'experiment.pause': { payload: { id: string }; result: { paused: boolean }; progress: never };
  /** A stored experiment with the report of its finished arms, whatever its state; null when there is none. */
  'experiment.load': { payload: { id: string }; result: ExperimentSnapshot | null; progress: never };
  /** Evaluates a recipe's tasks with an adapter from the library (or the base model). */
  'eval.run': { payload: { recipe: unknown; adapterKey?: string } & HubSettings; result: EvalEvent; progress: TrainProgress };
  /** The recipe as a folder for Axolotl, LLaMA-Factory or TRL (app/export), zipped. */
  /** The data audit of a recipe's prepared tasks (app/audit); `terms` is the edited bias term list. */
  'audit.run': { payload: { recipe: unknown; terms?: string } & HubSettings; result: AuditReport; progress: AuditProgress };
  'export.recipe': { payload: ExportRecipeRequest & HubSettings; result: ExportRecipeResult; progress: TrainProgress };
  /**
   * Trains a router over library adapters on the recipe's tasks (app/route), routes the tasks' validation
   * prompts for its confusion matrix, and keeps it in the "routers" store as a zipped bundle
   * (docs/router-format.md) with a RouterRecord as its meta.
   */
  'router.train': { payload: RouterTrainRequest & HubSettings; result: RouterRecord; progress: RouterTrainProgress };
  /**
   * Which layer routes best: the features of every layer from one forward pass, one head per layer (and
   * pooling asked) on router.train's balanced split with its head options and seed, held-out accuracy
   * side by side (app/route/layers.ts). Nothing is stored.
   */
  'router.layers': { payload: RouterLayersRequest & HubSettings; result: LayerComparison; progress: RouterLayersProgress };
  /** A stored router measured on its recipe's validation prompts (app/route/evaluate.ts); the result is kept in its record. */
  'router.evaluate': { payload: { routerKey: string; sharedKey?: string } & HubSettings; result: RouterEvaluation; progress: TrainProgress };
  /** Routes the prompt with a stored router and generates with the expert it chose (threshold and fallback applied). */
  'router.generate': { payload: GenerateRequest & { routerKey: string }; result: RoutedGenerateResponse; progress: RoutedGenerateProgress };
  /** Checks a router bundle (zip) and adds it to the library. */
  'router.import': { payload: { name: string; file: Blob }; result: RouterRecord; progress: never };
}

/** What the Router page asks the engine to train. */
export interface RouterTrainRequest {
  name: string;
  /** The recipe whose tasks teach the router (a run's own recipe). */
  recipe: unknown;
  /**
   * The experts in the head's order: a name, the library adapter that answers (null for "base", the
   * model with no adapter) and the recipe tasks whose training prompts teach it (default: the task of its name).
   */
  experts: { name: string; adapterKey: string | null; tasks?: string[] }[];
  /** Who answers below the threshold: nobody (no threshold), the base model, or a library adapter ("shared"). */
  fallback: null | 'base' | 'shared';
  /** With fallback "shared": the library adapter (the run's shared cocktail adapter, say). */
  sharedKey?: string;
  /** "oversample" balances by repeating the smaller tasks' prompts; "unbalanced" exists for comparison. */
  balance: 'balanced' | 'oversample' | 'unbalanced';
  /** hidden_states index; default the middle layer. */
  layer?: number;
  pooling: Pooling;
  /** Units of a relu hidden layer; none for a linear head. */
  hidden?: number;
  temperature: number;
  threshold: number;
  /** 1 (default): the top expert answers; k > 1: the top k are mixed with their renormalized probabilities. */
  topK?: number;
  maxSteps?: number;
}

/** What the Router page asks the engine to compare: the router's settings, at every layer, for each pooling asked. */
export type RouterLayersRequest = Omit<RouterTrainRequest, 'name' | 'layer' | 'pooling'> & { poolings: Pooling[] };

export type RouterLayersProgress =
  | { kind: 'stage'; stage: 'model' | 'data' }
  | { kind: 'prepare'; progress: PrepareProgress }
  | { kind: 'layers'; progress: LayerComparisonProgress };

export type RouterTrainProgress =
  | { kind: 'stage'; stage: 'model' | 'data' | 'features' | 'head' | 'validate' | 'store'; detail?: string }
  | { kind: 'prepare'; progress: PrepareProgress }
  | { kind: 'eval'; evaluation: HeadEvaluation; maxSteps: number };

/** What the "routers" store keeps per router (its meta; the bytes are the bundle, zipped). */
export interface RouterRecord {
  key: string;
  name: string;
  createdAt: number;
  /** Expert names in the order of the head's outputs ("base": the model with no adapter). */
  experts: string[];
  /** Per expert, the tasks that taught it (absent in records from before assignments: each expert's own name's task). */
  expertTasks?: string[][];
  /** The library adapter each expert came from, in order ("" for "base"; empty for an imported bundle). */
  expertKeys: string[];
  fallback: string | null;
  sharedKey?: string;
  baseModel: { name: string; revision: string | null };
  layer: number;
  pooling: Pooling;
  hidden: number | null;
  temperature: number;
  threshold: number;
  topK: number;
  balance?: RouterTrainRequest['balance'];
  trainCounts?: number[];
  heldOutCounts?: number[];
  bestStep?: number;
  heldOutAccuracy?: number;
  stoppedEarly?: boolean;
  /** The head's evaluations while it trained (for the charts). */
  history: HeadEvaluation[];
  /** The recipe's validation prompts routed: how many, the share routed to their own task's expert, and the confusion (task → expert → count). */
  validation?: { prompts: number; accuracy: number | null; confusion: Record<string, Record<string, number>> };
  /** The recipe it was trained on, which its evaluation reads (none for an imported bundle). */
  recipe?: unknown;
  /** The last evaluation (router.evaluate). */
  evaluation?: RouterEvaluation;
}

export interface RoutedGenerateResponse extends GenerateResponse {
  routing: RoutedPrompt;
}

export type RoutedGenerateProgress = { kind: 'routed'; routing: RoutedPrompt } | { kind: 'token'; id: number; text: string };

export interface ExportRecipeRequest {
  recipe: unknown;
  target: string;
  mode: string;
  gpus: number;
  nodes: number;
}

export interface ExportRecipeResult {
  /** The export's folder as one zip (its files under one folder named like fileName without ".zip"). */
  zip: Uint8Array;
  fileName: string;
  /** What could not be carried over exactly, for the screen (also in MAPPING.md). */
  notes: { field: string; message: string }[];
  copiedSources: string[];
}

export interface ModelRef {
  source: string;
  revision: string;
}

export interface ModelSummary extends ModelRef {
  /** Shown to the user: "HuggingFaceTB/SmolLM2-135M@main", "local/my-model". */
  label: string;
  architecture: string;
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  maxPositions: number;
  parameters: number;
  /** Dtype of the stored weights ("bf16", "f32", ...); of a GPTQ/AWQ checkpoint, its 16-bit tables and norms. */
  weightDtype: string;
  /** A GPTQ/AWQ checkpoint's int4 projections (config.json's quantization_config). */
  prequantized?: { method: 'gptq' | 'awq'; group: Int4Options['group']; symmetric: boolean };
  files: { path: string; bytes: number }[];
  totalBytes: number;
  hasChatTemplate: boolean;
  /** An ONNX export exists (onnx/model.onnx), so "verify engine" is possible. */
  hasOnnx: boolean;
}

export interface TrainingPlanRequest {
  batchSize: number;
  seqLength: number;
  r: number;
  targets: LoraTarget[];
  adapters: number;
  recompute: boolean;
  /** The projections' dtype; int8/int4 quantize them on upload (app/model/quantization.ts). */
  dtype: FrozenDType;
  /** With int8/int4: the vocabulary tables' dtype (16-bit, as the model is stored; bf16 for f32). */
  tableDtype?: DType;
  /** With int4: group size and symmetry. */
  int4?: Int4Options;
  /** The GPU memory the user says this device can give (WebGPU does not tell). */
  budgetBytes: number;
  /** For a whole run's plan (the Train page): its micro-batches per step, its evaluator, and the generator of generation metrics. */
  gradAccum?: number;
  evaluation?: { batchSize: number; seqLength: number };
  generation?: { maxNewTokens: number };
}

export interface GenerateRequest extends ModelRef, HubSettings {
  /** Key in the "adapters" store; none generates with the base model. */
  adapterKey?: string;
  /** A plain prompt, or chat messages rendered with the model's chat template. */
  prompt: string | { role: 'system' | 'user' | 'assistant'; content: string }[];
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed?: number;
  stop?: string[];
}

export interface GenerateResponse {
  ids: number[];
  text: string;
  stopReason: 'eos' | 'stop-string' | 'max-new-tokens' | 'context-full';
  tokensPerSecond: number;
  /** Chat prompts only: rendered with the model's chat template, or (a model without one) the plain user-assistant template. */
  chatRendering?: 'chat-template' | 'plain';
}

export interface TokenViewRequest extends ModelRef, HubSettings {
  /** The task as the recipe will hold it (its source names an imported file). */
  task: RecipeTask;
  maxLength: number;
  trainOnPrompts: boolean;
  /** How many examples to show (from the start of the file). */
  examples: number;
  /** The recipe's seed (default 0): the split depends on it, and with the same seed training reuses this tokenization. */
  seed?: number;
}

export interface TokenViewResult {
  examples: { row: number; tokens: TokenViewEntry[]; trained: number; truncated: boolean }[];
  /** The max_length the examples were cut at: the recipe's, clamped to the model's context as a run clamps it. */
  maxLength: number;
  /** Set when max_length was clamped, in the words a run says it. */
  contextNotice?: string;
  /** Rows the format could not use, with the reason (the first few). */
  skipped: { row: number; reason: string }[];
  /** The whole task prepared exactly as training prepares it (for the mixture's expected tokens). */
  stats: TaskStats;
}

export interface TaskStats {
  /** Rows in the file. */
  rows: number;
  /** Examples in the training split, after skipped rows, the validation split and max_examples. */
  examples: number;
  validation: number;
  /** Mean tokens per training example after truncation, and mean of those that carry loss. */
  meanTokens: number;
  meanTrainedTokens: number;
}

/** What the "runs" store keeps per run (key: runId): enough to list, chart and resume it after a reload. */
export interface RunRecord {
  [key: string]: unknown;
  runId: string;
  name: string;
  recipe: unknown;
  status: 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
  step: number;
  totalSteps: number;
  startedAt: number;
  updatedAt: number;
  /** Evaluations so far (the step history lives in the checkpoint). */
  evaluations: EvalEvent[];
  adapterKeys: string[];
  error?: ErrorReport;
}

/**
 * Where Hub downloads come from, and the user's access token for gated or private repositories (sent
 * as a Bearer token to that endpoint only). Every command that may download takes it.
 */
export interface HubSettings {
  hubEndpoint?: string;
  hubToken?: string;
}

/** A split of a Hub data set, named as a recipe's task source names it. */
export interface HubSplitRef {
  hub: string;
  config: string;
  split: string;
}

export interface DataImportResult {
  name: string;
  rows: number;
  columns: string[];
  format: string;
  /** The first rows, for the preview and the column mapping. */
  preview: { row: number; values: Record<string, unknown> }[];
  /** Columns that look like labels over every row, with their distinct values (labelColumnValues). */
  labelValues: Record<string, string[]>;
  report: ValidationReport;
}

/**
 * The name of the Web Lock a tab's engine holds while it trains run `runId` (workers/run-lock.ts), and
 * of the BroadcastChannel on which it tells the studio's other tabs how that run goes (RunBroadcast).
 */
export function runChannelName(runId: string): string {
  return `cocktail-run:${runId}`;
}

/** What the tab that trains a run tells the studio's other tabs, which show that run read-only. */
export type RunBroadcast =
  | { kind: 'progress'; event: TrainProgress }
  /** How the run ended in the owner's tab: the request's result, or its error (a CANCELLED one for a cancel). */
  | { kind: 'ended'; status: 'completed' | 'paused' | 'failed' | 'cancelled'; step: number; error?: ErrorReport };

export interface TrainRunResult {
  status: 'completed' | 'paused';
  step: number;
  totalSteps: number;
  /** Keys in the "adapters" store of the exported PEFT adapters (zip). */
  adapterKeys: string[];
  /** With best_checkpoint: the exported adapters are this evaluation's. */
  best?: { step: number; score: number };
  stoppedEarly?: { step: number; reason: string };
}

export type TrainProgress =
  | { kind: 'stage'; stage: 'model' | 'data' | 'train' | 'evaluate' | 'export' }
  | { kind: 'prepare'; progress: PrepareProgress }
  | { kind: 'step'; step: StepEvent }
  | { kind: 'eval'; eval: EvalEvent }
  | { kind: 'eval-progress'; progress: EvalProgress }
  | { kind: 'notice'; message: string }
  | { kind: 'checkpoint'; step: number }
  | { kind: 'mixture'; mixture: MixtureEvent }
  | { kind: 'best'; best: BestEvent }
  | { kind: 'early_stop'; step: number; reason: string };

/** An experiment as the studio asks for it (app/experiment/design.ts ExperimentSpec, with a raw recipe). */
export interface ExperimentRequest {
  id: string;
  recipe: unknown;
  targets: string[];
  designs: DesignName[];
  seeds: number;
  budget: BudgetRule;
  order?: string[];
  custom?: string[][];
}

export interface ExperimentRunResult {
  status: 'completed' | 'paused';
  report: ExperimentReport;
}

export interface ExperimentSnapshot {
  request: ExperimentRequest;
  status: 'running' | 'paused' | 'completed';
  finishedRuns: number;
  report: ExperimentReport;
}

export type ExperimentProgress =
  | { kind: 'stage'; stage: 'model' | 'data' | 'train' | 'evaluate' | 'export' }
  | { kind: 'prepare'; progress: PrepareProgress }
  | { kind: 'plan'; arms: { id: string; tasks: string[]; designs: string[]; steps: number }[]; seeds: number[]; runs: number; steps: number; tokens: number }
  | { kind: 'arm'; arm: string; seed: number; run: number; runs: number }
  | { kind: 'step'; step: ArmProgress }
  | { kind: 'arm-done'; arm: string; seed: number }
  | { kind: 'warning'; message: string };

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
  /** Request `id` waits for the GPU behind a running job of type `behind` (one GPU job at a time); null: its turn came. */
  | { v: number; type: 'queued'; id: number; behind: CommandType | null }
  /** The GPU reported an error outside any error scope (uncapturederror). */
  | { v: number; type: 'gpu-error'; error: ErrorReport }
  /** The GPU device is gone; every later GPU command must re-acquire it. */
  | { v: number; type: 'device-lost'; error: ErrorReport }
  /** The worker's IndexedDB connection met another tab's schema version (app/store/idb.ts). */
  | { v: number; type: 'storage-schema'; status: SchemaStatus };

export const COMMAND_TYPES: readonly CommandType[] = [
  'gpu.info',
  'gpu.selftest',
  'data.import',
  'data.hubPreview',
  'train.run',
  'train.pause',
  'model.load',
  'model.importLocal',
  'model.plan',
  'model.verify',
  'model.quantError',
  'model.generate',
  'data.tokenView',
  'eval.run',
  'export.recipe',
  'audit.run',
  'experiment.run',
  'experiment.pause',
  'experiment.load',
  'router.train',
  'router.layers',
  'router.evaluate',
  'router.generate',
  'router.import',
];

export function isCommandType(type: unknown): type is CommandType {
  return typeof type === 'string' && (COMMAND_TYPES as readonly string[]).includes(type);
}
