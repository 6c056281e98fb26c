/**
 * Where a model's files come from: a local folder (Node), files the user picked or dropped (browser),
 * or a Hub download (cached). Everything downstream reads files through this one interface as Blobs,
 * so safetensors are sliced lazily whatever the source.
 */
import { CocktailError } from '../errors.ts';

export interface ModelFiles {
  /** Shown in messages: a folder path, a Hub id@revision, "dropped files". */
  readonly label: string;
  has(path: string): boolean;
  open(path: string): Promise<Blob>;
  list(): string[];
  /** Where a file is, in full, for messages: its path on disk, or a Hub file's place in the cache. */
  locate?(path: string): string;
}

/** How a message names a model file: where it is when the source knows, else the source's label and the path. */
export function locateFile(files: ModelFiles, path: string): string {
  return files.locate?.(path) ?? `${files.label}/${path}`;
}

export function missingFile(files: ModelFiles, path: string, why: string): CocktailError {
  return new CocktailError('MODEL_FILE_MISSING', `${files.label}: ${path} is missing; ${why}`, { file: path, source: files.label });
}

export async function readJsonFile(files: ModelFiles, path: string): Promise<unknown> {
  const text = await (await files.open(path)).text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CocktailError('MODEL_FILE_INVALID', `${locateFile(files, path)} is not valid JSON (${(error as Error).message})`, { file: path });
  }
}

/** Files picked in a folder picker or dropped: keyed by their path relative to the model folder. */
export function filesFromList(list: readonly File[], label = 'selected files'): ModelFiles {
  const byPath = new Map<string, File>();
  for (const file of list) {
    // webkitRelativePath is "folder/sub/name"; drop the top folder so paths match the repository's.
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath;
    const path = relative ? relative.split('/').slice(1).join('/') : file.name;
    byPath.set(path, file);
  }
  return {
    label,
    has: (path) => byPath.has(path),
    open: async (path) => {
      const file = byPath.get(path);
      if (!file) throw new CocktailError('MODEL_FILE_MISSING', `${label}: ${path} was not among the files given`, { file: path });
      return file;
    },
    list: () => [...byPath.keys()].sort(),
  };
}
