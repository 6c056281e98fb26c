/**
 * The engine behind the worker boundary: it receives protocol messages, runs the command handlers
 * and posts events. It owns the GPUDevice. Kept apart from the worker entry so Node (tests, CLI) can
 * drive the very same code over a MessagePort.
 */
import { CocktailError, toErrorReport } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { runSelfTest } from '../app/gpu/selftest.ts';
import { loadModel } from '../app/model/load.ts';
import { measureModelQuantization } from '../app/model/quant-error.ts';
import { openIndexedDbStorage, watchSchemaStatus } from '../app/store/idb.ts';
import type { Storage } from '../app/store/storage.ts';
import { auditInStudio } from './audit.ts';
import { importTaskFile, previewHubSplit } from './data.ts';
import { exportInStudio } from './export.ts';
import { generateInStudio } from './generate.ts';
import { importLocalModel } from './local-import.ts';
import { loadStudioModel, planTraining } from './model.ts';
import { modelLabel, ONNX_EXPORT, openModelFiles, type OpenModelOptions } from './model-files.ts';
import { GpuQueue } from './gpu-queue.ts';
import { broadcastRun } from './run-broadcast.ts';
import { asRunOwner } from './run-lock.ts';
import { readRunRecord } from './run-records.ts';
import { SessionModel } from './session-model.ts';
import { tokenViewInStudio } from './token-view.ts';
import { evaluateInStudio, trainInStudio } from './train.ts';
import { loadExperimentInStudio, runExperimentInStudio } from './experiment.ts';
import { requireOnnxExport, verifyInStudio } from './verify.ts';
import { compareLayersInStudio, evaluateRouterInStudio, generateRoutedInStudio, importRouterInStudio, trainRouterInStudio } from './router.ts';
import { PROTOCOL_VERSION, isCommandType, type CommandType, type Commands, type HubSettings, type Request, type WorkerEvent } from './protocol.ts';

interface HandlerContext<K extends CommandType> {
  gpu(): Promise<GpuContext>;
  storage(): Promise<Storage>;
  signal: AbortSignal;
  progress(progress: Commands[K]['progress']): void;
  /** The model kept on the GPU between generation and engine-check requests. */
  session: SessionModel;
}

type Handlers = { [K in CommandType]: (payload: Commands[K]['payload'], context: HandlerContext<K>) => Promise<Commands[K]['result']> };

/**
 * Commands that allocate on the GPU or submit work to it: they run one at a time (gpu-queue.ts). The
 * others (files, tokenizer, plans from the adapter's limits, train.pause) never wait behind them.
 */
const GPU_JOBS: ReadonlySet<CommandType> = new Set<CommandType>(['gpu.selftest', 'train.run', 'eval.run', 'model.generate', 'model.verify', 'model.quantError', 'router.train', 'router.layers', 'router.evaluate', 'router.generate']);

/** Runs in progress by run id, so train.pause can reach them. */
const runs = new Map<string, AbortController>();

const handlers: Handlers = {
  'gpu.info': async (_payload, { gpu }) => (await gpu()).info,
  'gpu.selftest': async (_payload, { gpu, signal, progress }) => runSelfTest(await gpu(), { signal, onProgress: progress }),
  'data.import': async (request, { signal, progress, storage }) => importTaskFile(request, await storage(), signal, progress),
  'data.hubPreview': async (request, { signal, progress, storage }) => previewHubSplit(request, await storage(), signal, progress),
  'train.run': async ({ recipe, runId, resume, takeOver, memoryBudgetBytes, ...hub }, { gpu, signal, progress, storage, session }) => {
    if (runs.has(runId)) throw new CocktailError('TRAIN_RUNNING', `run "${runId}" is already running`, { runId });
    const store = await storage();
    // Another tab training the same run would write the same checkpoint: one tab owns it (run-lock.ts).
    return asRunOwner(
      runId,
      async () => {
        const controller = new AbortController();
        signal.addEventListener('abort', () => controller.abort('cancel'), { once: true });
        runs.set(runId, controller);
        // The studio's other tabs show this run read-only and follow it live (run-broadcast.ts).
        const broadcast = broadcastRun(runId);
        try {
          await session.release(); // the run gets the GPU memory the session model held
          const result = await trainInStudio({ recipe, runId, resume, ...(memoryBudgetBytes ? { memoryBudgetBytes } : {}), ...hubOptions(hub) }, await gpu(), store, controller.signal, (event) => {
            progress(event);
            broadcast.progress(event);
          });
          broadcast.ended({ result });
          return result;
        } catch (error) {
          broadcast.ended({ error });
          throw error;
        } finally {
          runs.delete(runId);
        }
      },
      { takeOver: takeOver === true, signal, owner: () => readRunRecord(store, runId) },
    );
  },
  'train.pause': async ({ runId }) => {
    const run = runs.get(runId);
    run?.abort('pause');
    return { paused: run !== undefined };
  },
  'audit.run': async (request, { signal, progress, storage }) => auditInStudio(request, await storage(), signal, progress),
  'model.load': async (request, { signal, progress, storage }) => loadStudioModel(request, await storage(), signal, progress),
  'model.importLocal': async (request, { signal, progress, storage }) => importLocalModel(request, await storage(), signal, progress),
  'model.plan': async (request, { gpu, storage }) => planTraining(request, await storage(), await gpu()),
  'model.verify': async (request, { gpu, signal, progress, storage, session }) => {
    progress({ stage: 'download' });
    const files = await openModelFiles(await storage(), request, { ...hubOptions(request), signal, extraFiles: [ONNX_EXPORT] });
    requireOnnxExport(files);
    progress({ stage: 'engine' });
    const ctx = await gpu();
    return session.use(modelLabel(request), ctx, () => loadModel(ctx, files), (model) => {
      progress({ stage: 'onnx' });
      return verifyInStudio(ctx, model, files, request.prompt);
    });
  },
  'model.quantError': async ({ dtype, int4, ...ref }, { gpu, storage, session }) => {
    const files = await openModelFiles(await storage(), ref, { offline: true });
    await session.release(); // the quantized copy gets the memory the session model held
    return measureModelQuantization(await gpu(), files, { dtype, ...(int4 ? { int4 } : {}) });
  },
  'model.generate': async (request, { gpu, signal, progress, storage, session }) => {
    const ctx = await gpu();
    const store = await storage();
    return session.use(modelLabel(request), ctx, async () => loadModel(ctx, await openModelFiles(store, request, { ...hubOptions(request), signal })), (model) =>
      generateInStudio(request, model, ctx, store, signal, progress),
    );
  },
  'data.tokenView': async (request, { signal, progress, storage }) => {
    const store = await storage();
    const files = await openModelFiles(store, request, { ...hubOptions(request), signal });
    return tokenViewInStudio(request, files, store, signal, progress);
  },
  'export.recipe': async (request, { signal, progress, storage }) => exportInStudio(request, await storage(), signal, progress),
  'experiment.run': async ({ id, ...request }, { gpu, signal, progress, storage, session }) => {
    const key = `experiment/${id}`;
    if (runs.has(key)) throw new CocktailError('EXPERIMENT_RUNNING', `experiment "${id}" is already running`, { experiment: id });
    const controller = new AbortController();
    signal.addEventListener('abort', () => controller.abort('cancel'), { once: true });
    runs.set(key, controller);
    try {
      await session.release(); // the experiment gets the GPU memory the session model held
      return await runExperimentInStudio({ id, ...request, ...hubOptions(request) }, await gpu(), await storage(), controller.signal, progress);
    } finally {
      runs.delete(key);
    }
  },
  'experiment.pause': async ({ id }) => {
    const run = runs.get(`experiment/${id}`);
    run?.abort('pause');
    return { paused: run !== undefined };
  },
  'experiment.load': async ({ id }, { storage }) => loadExperimentInStudio(id, await storage()),
  'eval.run': async (request, { gpu, signal, progress, storage, session }) => {
    await session.release();
    return evaluateInStudio(request, await gpu(), await storage(), signal, progress);
  },
  'router.train': async (request, { gpu, signal, progress, storage, session }) => {
    await session.release(); // the router's features are computed on a model of its own
    return trainRouterInStudio(request, await gpu(), await storage(), signal, progress);
  },
  'router.layers': async (request, { gpu, signal, progress, storage, session }) => {
    await session.release();
    return compareLayersInStudio(request, await gpu(), await storage(), signal, progress);
  },
  'router.evaluate': async (request, { gpu, signal, progress, storage, session }) => {
    await session.release();
    return evaluateRouterInStudio(request, await gpu(), await storage(), signal, progress);
  },
  'router.generate': async (request, { gpu, signal, progress, storage, session }) => {
    const ctx = await gpu();
    const store = await storage();
    return session.use(modelLabel(request), ctx, async () => loadModel(ctx, await openModelFiles(store, request, { ...hubOptions(request), signal })), (model) =>
      generateRoutedInStudio(request, model, ctx, store, signal, progress),
    );
  },
  'router.import': async (request, { storage }) => importRouterInStudio(request, await storage()),
};

function hubOptions({ hubEndpoint, hubToken }: HubSettings): Pick<OpenModelOptions, 'hubEndpoint' | 'hubToken'> {
  return { ...(hubEndpoint ? { hubEndpoint } : {}), ...(hubToken ? { hubToken } : {}) };
}

export function createEngine(post: (event: WorkerEvent) => void, acquire: () => Promise<GpuContext>, openStorage: () => Promise<Storage> = openIndexedDbStorage): (message: unknown) => void {
  let gpu: Promise<GpuContext> | undefined;
  let storage: Promise<Storage> | undefined;
  const running = new Map<number, AbortController>();
  const session = new SessionModel();
  const queue = new GpuQueue<CommandType>();
  // The studio shows the notice whichever side's connection met the other tab (the page's or this worker's).
  watchSchemaStatus((status) => post({ v: PROTOCOL_VERSION, type: 'storage-schema', status }));

  const acquireOnce = (): Promise<GpuContext> => {
    if (!gpu) {
      const acquiring = acquire();
      gpu = acquiring;
      acquiring.then(
        (context) => {
          // Errors outside every scope would otherwise only reach the console.
          const unsubscribe = context.onError((error) => post({ v: PROTOCOL_VERSION, type: 'gpu-error', error: toErrorReport(error) }));
          void context.lost.then((error) => {
            unsubscribe();
            gpu = undefined;
            post({ v: PROTOCOL_VERSION, type: 'device-lost', error: toErrorReport(error) });
          });
        },
        () => {
          gpu = undefined; // let a later command try again (the user may have changed a flag)
        },
      );
    }
    return gpu;
  };

  const run = async (request: Request): Promise<void> => {
    const controller = new AbortController();
    running.set(request.id, controller);
    const context: HandlerContext<CommandType> = {
      gpu: acquireOnce,
      storage: () => (storage ??= openStorage()),
      signal: controller.signal,
      progress: (progress) => post({ v: PROTOCOL_VERSION, type: 'progress', id: request.id, progress }),
      session,
    };
    try {
      const handler = handlers[request.type] as (payload: unknown, context: HandlerContext<CommandType>) => Promise<unknown>;
      const result = GPU_JOBS.has(request.type)
        ? await queue.run(request.type, () => handler(request.payload, context), {
            signal: controller.signal,
            onWait: (behind) => post({ v: PROTOCOL_VERSION, type: 'queued', id: request.id, behind }),
          })
        : await handler(request.payload, context);
      post({ v: PROTOCOL_VERSION, type: 'result', id: request.id, result });
    } catch (error) {
      post({ v: PROTOCOL_VERSION, type: 'error', id: request.id, error: toErrorReport(error) });
    } finally {
      running.delete(request.id);
    }
  };

  return (message: unknown): void => {
    const fail = (error: CocktailError, id?: number): void =>
      post({ v: PROTOCOL_VERSION, type: 'error', ...(id === undefined ? {} : { id }), error: toErrorReport(error) });
    if (typeof message !== 'object' || message === null) {
      fail(new CocktailError('BAD_MESSAGE', `The engine received a ${message === null ? 'null' : typeof message} message; expected an object`));
      return;
    }
    const { v, type, id } = message as { v?: unknown; type?: unknown; id?: unknown };
    const requestId = typeof id === 'number' ? id : undefined;
    if (v !== PROTOCOL_VERSION) {
      fail(new CocktailError('PROTOCOL_VERSION', `Protocol version ${String(v)} is not this engine's version ${PROTOCOL_VERSION}; reload the page`, { got: v }), requestId);
      return;
    }
    if (type === 'cancel') {
      if (requestId !== undefined) running.get(requestId)?.abort();
      return;
    }
    if (!isCommandType(type)) {
      fail(new CocktailError('UNKNOWN_MESSAGE', `The engine does not know the message type "${String(type)}"`, { type: String(type) }), requestId);
      return;
    }
    if (requestId === undefined) {
      fail(new CocktailError('BAD_MESSAGE', `A "${type}" request needs a numeric id`));
      return;
    }
    void run(message as Request);
  };
}
