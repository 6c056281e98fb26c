import { openAsBlob } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import type { ModelFiles } from './source.ts';

/** A model folder on disk, in Hugging Face layout. Files open as lazy Blobs (fs.openAsBlob). */
export async function filesFromDirectory(folder: string): Promise<ModelFiles> {
  // Messages name files by their full path, however the folder was given.
  const dir = resolve(folder);
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new CocktailError('MODEL_NOT_FOUND', `${dir}: no such folder`, { file: dir });
  }
  if (!info.isDirectory()) throw new CocktailError('MODEL_NOT_FOUND', `${dir} is not a folder; give the folder that holds config.json`, { file: dir });
  const paths = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
  const known = new Set(paths);
  return {
    label: dir,
    has: (path) => known.has(path),
    open: async (path) => {
      if (!known.has(path)) throw new CocktailError('MODEL_FILE_MISSING', `${dir}: ${path} is missing`, { file: path });
      return openAsBlob(join(dir, path));
    },
    list: () => [...paths],
    locate: (path) => join(dir, path),
  };
}
