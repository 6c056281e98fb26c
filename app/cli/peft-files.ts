import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocktailError } from '../errors.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, unzipPeftAdapter, type PeftFiles } from '../train/peft.ts';

/** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) or a zip of one. */
export async function readPeftAdapter(path: string): Promise<PeftFiles> {
  if (path.endsWith('.zip')) return unzipPeftAdapter(new Uint8Array(await readFile(path)), path);
  const read = async (name: string) => {
    try {
      return await readFile(join(path, name));
    } catch {
      throw new CocktailError('ADAPTER_INVALID', `${path}: ${name} is missing; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`, { file: join(path, name) });
    }
  };
  return { config: (await read(ADAPTER_CONFIG)).toString('utf8'), weights: new Blob([await read(ADAPTER_WEIGHTS)]) };
}
