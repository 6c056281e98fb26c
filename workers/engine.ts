/**
 * The engine behind the worker boundary: it receives protocol messages, runs the command handlers
 * and posts events. It owns the GPUDevice. Kept apart from the worker entry so Node (tests, CLI) can
 * drive the very same code over a MessagePort.
 */
import { CocktailError, toErrorReport } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { runSelfTest } from '../app/gpu/selftest.ts';
import { openIndexedDbStorage } from '../app/store/idb.ts';
import type { Storage } from '../app/store/storage.ts';
import { importTaskFile } from './data.ts';
import { trainInStudio } from './train.ts';
import { PROTOCOL_VERSION, isCommandType, type CommandType, type Commands, type Request, type WorkerEvent } from './protocol.ts';

interface HandlerContext<K extends CommandType> {
  gpu(): Promise<GpuContext>;
  storage(): Promise<Storage>;
  signal: AbortSignal;
  progress(progress: Commands[K]['progress']): void;
}

type Handlers = { [K in CommandType]: (payload: Commands[K]['payload'], context: HandlerContext<K>) => Promise<Commands[K]['result']> };

/** Runs in progress by run id, so train.pause can reach them. */
const runs = new Map<string, AbortController>();

const handlers: Handlers = {
  'gpu.info': async (_payload, { gpu }) => (await gpu()).info,
  'gpu.selftest': async (_payload, { gpu, signal, progress }) => runSelfTest(await gpu(), { signal, onProgress: progress }),
  'data.import': async (request, { signal, progress, storage }) => importTaskFile(request, await storage(), signal, progress),
  'train.run': async ({ recipe, runId, resume, hubEndpoint }, { gpu, signal, progress, storage }) => {
    if (runs.has(runId)) throw new CocktailError('TRAIN_RUNNING', `run "${runId}" is already running`, { runId });
    const controller = new AbortController();
    signal.addEventListener('abort', () => controller.abort('cancel'), { once: true });
    runs.set(runId, controller);
    try {
      return await trainInStudio({ recipe, runId, resume, ...(hubEndpoint ? { hubEndpoint } : {}) }, await gpu(), await storage(), controller.signal, progress);
    } finally {
      runs.delete(runId);
    }
  },
  'train.pause': async ({ runId }) => {
    const run = runs.get(runId);
    run?.abort('pause');
    return { paused: run !== undefined };
  },
  // Being written: the studio's model, token-view and evaluation commands.
  'model.load': notYet('model.load'),
  'model.importLocal': notYet('model.importLocal'),
  'model.plan': notYet('model.plan'),
  'model.verify': notYet('model.verify'),
  'model.generate': notYet('model.generate'),
  'data.tokenView': notYet('data.tokenView'),
  'eval.run': notYet('eval.run'),
};

function notYet(type: CommandType): () => Promise<never> {
  return () => Promise.reject(new CocktailError('NOT_YET', `${type} is not available in this build yet`));
}

export function createEngine(post: (event: WorkerEvent) => void, acquire: () => Promise<GpuContext>, openStorage: () => Promise<Storage> = openIndexedDbStorage): (message: unknown) => void {
  let gpu: Promise<GpuContext> | undefined;
  let storage: Promise<Storage> | undefined;
  const running = new Map<number, AbortController>();

  const acquireOnce = (): Promise<GpuContext> => {
    if (!gpu) {
      const acquiring = acquire();
      gpu = acquiring;
      acquiring.then(
        (context) =>
          void context.lost.then((error) => {
            gpu = undefined;
            post({ v: PROTOCOL_VERSION, type: 'device-lost', error: toErrorReport(error) });
          }),
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
    };
    try {
      const handler = handlers[request.type] as (payload: unknown, context: HandlerContext<CommandType>) => Promise<unknown>;
      const result = await handler(request.payload, context);
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
