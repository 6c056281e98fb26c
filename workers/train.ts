/**
 * train.run inside the engine worker: a recipe run whose model and task files come from the studio's
 * storage. Models are Hub ids (downloaded once into the "models" store, then offline); task files are
 * what the user imported, kept in the "datasets" store under `file/<name>`.
 */
import { CocktailError } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { filesFromHub } from '../app/model/hub.ts';
import type { Storage } from '../app/store/storage.ts';
import { unzipPeftAdapter } from '../app/train/peft.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { runRecipe } from '../app/train/run.ts';
import type { TrainProgress, TrainRunResult } from './protocol.ts';

export const TASK_FILE_PREFIX = 'file/';

/** Preparation reports every chunk and row; the UI needs no more than ten updates a second. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Calls `send` at most once per `interval` ms, always for the first event and for one that completes
 * a stage (done === total), so the UI never misses a start or an end.
 */
export function everyInterval<T extends { done: number; total: number }>(interval: number, send: (event: T) => void, now: () => number = () => performance.now()): (event: T) => void {
  let last = -Infinity;
  return (event) => {
    const time = now();
    if (time - last >= interval || event.done >= event.total) {
      last = time;
      send(event);
    }
  };
}

export async function trainInStudio(
  request: { recipe: unknown; runId: string; resume: boolean; hubEndpoint?: string },
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: TrainProgress) => void,
): Promise<TrainRunResult> {
  const recipe = parseRecipe(request.recipe, `recipe of run "${request.runId}"`);
  const result = await runRecipe(
    recipe,
    request.runId,
    {
      ctx,
      storage,
      openModel: (source, revision) => filesFromHub(source, { storage, revision, ...(request.hubEndpoint ? { endpoint: request.hubEndpoint } : {}), signal }),
      openTaskFile: async (path) => {
        const bytes = await storage.getBytes('datasets', `${TASK_FILE_PREFIX}${path}`);
        if (!bytes) throw new CocktailError('TASK_FILE_NOT_FOUND', `${path} is not among the imported task files; import it on the Tasks page`, { file: path });
        return new Blob([bytes as Uint8Array<ArrayBuffer>]);
      },
      openAdapter: async (key) => {
        const zip = await storage.getBytes('adapters', key);
        if (!zip) throw new CocktailError('ADAPTER_NOT_FOUND', `adapter "${key}" is not in the library`, { adapter: key });
        return unzipPeftAdapter(zip, key);
      },
      ...(request.hubEndpoint ? { hubEndpoint: request.hubEndpoint } : {}),
    },
    {
      onStage: (stage) => progress({ kind: 'stage', stage }),
      onPrepare: everyInterval(PROGRESS_INTERVAL_MS, (prepare) => progress({ kind: 'prepare', progress: prepare })),
      onStep: (step) => progress({ kind: 'step', step }),
      onEval: (evaluation) => progress({ kind: 'eval', eval: evaluation }),
      onCheckpoint: (step) => progress({ kind: 'checkpoint', step }),
    },
    { signal, resume: request.resume },
  );
  return { status: result.status, step: result.step, totalSteps: result.totalSteps, adapterKeys: [...result.adapters.keys()].map((name) => `${request.runId}/${name}`) };
}
