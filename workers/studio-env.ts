/**
 * Where a studio command finds what a recipe names: task files the user imported (the "datasets" store,
 * `file/<name>`), adapters in the library (the "adapters" store, zipped PEFT), and models through
 * openModelFiles. Training, evaluation, the token view and generation all read through here.
 */
import { CocktailError } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import type { ModelConfig } from '../app/model/config.ts';
import { uploadLoraChecked, type GpuLora } from '../app/model/lora-gpu.ts';
import type { Storage } from '../app/store/storage.ts';
import { importPeftAdapter, unzipPeftAdapter, type PeftFiles } from '../app/train/peft.ts';
import type { RunEnvironment } from '../app/train/run.ts';
import { openModelFiles, readModelConfig } from './model-files.ts';
import { TASK_FILE_PREFIX } from '../app/store/keys.ts';
import type { HubSettings } from './protocol.ts';

export async function openTaskFile(storage: Storage, path: string): Promise<Blob> {
  const bytes = await storage.getBytes('datasets', `${TASK_FILE_PREFIX}${path}`);
  if (!bytes) throw new CocktailError('TASK_FILE_NOT_FOUND', `${path} is not among the imported task files; import it on the Tasks page`, { file: path });
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

export async function openStoredAdapter(storage: Storage, key: string): Promise<PeftFiles> {
  const zip = await storage.getBytes('adapters', key);
  if (!zip) throw new CocktailError('ADAPTER_NOT_FOUND', `adapter "${key}" is not in the library`, { adapter: key });
  return unzipPeftAdapter(zip, key);
}

/** A library adapter on the GPU for inference, checked against the model it is applied to. */
export async function uploadStoredAdapter(ctx: GpuContext, storage: Storage, key: string, model: ModelConfig): Promise<GpuLora> {
  return uploadLoraChecked(ctx, await importPeftAdapter(await openStoredAdapter(storage, key), model), { training: false });
}

/** The RunEnvironment of a recipe run in the studio (app/train/run.ts). */
export function studioRunEnvironment(ctx: GpuContext, storage: Storage, signal: AbortSignal, { hubEndpoint, hubToken, memoryBudgetBytes }: HubSettings & { memoryBudgetBytes?: number }): RunEnvironment {
  return {
    ctx,
    storage,
    openModel: (source, revision) => openModelFiles(storage, { source, revision }, { ...(hubEndpoint ? { hubEndpoint } : {}), ...(hubToken ? { hubToken } : {}), signal }),
    openModelConfig: (source, revision) => readModelConfig(storage, { source, revision }, { ...(hubEndpoint ? { hubEndpoint } : {}), ...(hubToken ? { hubToken } : {}), signal }),
    openTaskFile: (path) => openTaskFile(storage, path),
    ...(memoryBudgetBytes ? { memoryBudgetBytes } : {}),
    openAdapter: (key) => openStoredAdapter(storage, key),
    ...(hubEndpoint ? { hubEndpoint } : {}),
    ...(hubToken ? { hubAccessToken: hubToken } : {}),
  };
}
