import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { locateAdapter } from '../train/peft-layout.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, unzipPeftAdapter, type PeftFiles } from '../train/peft.ts';

/**
 * A PEFT adapter folder (adapter_config.json + adapter_model.safetensors), a training output_dir of
 * Axolotl, LLaMA-Factory or TRL (its final adapter, else its latest checkpoint-N), or a zip of either.
 */
export async function readPeftAdapter(given: string): Promise<PeftFiles> {
  // Messages about the adapter's files name them by their full path, however the folder was given.
  const path = resolve(given);
  if (path.endsWith('.zip')) return { ...unzipPeftAdapter(new Uint8Array(await readFile(path)), path), location: path };
  const isFolder = await stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (!isFolder) throw new CocktailError('ADAPTER_INVALID', `${path}: no such folder; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`, { file: path });
  const location = locateAdapter(await adapterFilePaths(path), path);
  const folder = join(path, location.folder);
  return { config: (await readFile(join(folder, ADAPTER_CONFIG))).toString('utf8'), weights: new Blob([await readFile(join(folder, ADAPTER_WEIGHTS))]), location: folder };
}

/**
 * The adapter files under a folder, two levels deep (output_dir/checkpoint-N/…); other files are not
 * listed, so a large output_dir (optimizer states, logs) costs one directory read per folder.
 */
async function adapterFilePaths(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string, levels: number): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory() && levels > 0) await walk(full, levels - 1);
      else if (entry.isFile() && /^adapter_(config\.json|model\.(safetensors|bin))$/.test(entry.name)) found.push(relative(root, full));
    }
  };
  await walk(root, 2);
  return found;
}
