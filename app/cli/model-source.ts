import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { CocktailError } from '../errors.ts';
import { DEFAULT_HUB_ENDPOINT, filesFromHub, hubModelConfig } from '../model/hub.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import type { ModelFiles } from '../model/source.ts';
import { openFileStorage } from '../store/fs.ts';

/** Where the CLI caches Hub downloads: $COCKTAIL_CACHE, else ~/.cache/cocktail-studio. */
export function cacheDirectory(): string {
  return process.env.COCKTAIL_CACHE ?? join(homedir(), '.cache', 'cocktail-studio');
}

/**
 * A local folder when `source` is one, otherwise a Hub id fetched from $HF_ENDPOINT (or the Hub) into
 * the cache, with $HF_TOKEN (as the huggingface_hub library reads it) for gated or private models.
 */
export async function modelFilesFor(source: string, options: { revision?: string; quiet?: boolean } = {}): Promise<ModelFiles> {
  if (existsSync(source)) return filesFromDirectory(source);
  const storage = await openFileStorage(cacheDirectory());
  let lastFile = '';
  return filesFromHub(source, {
    storage,
    endpoint: process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT,
    ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}),
    revision: options.revision ?? 'main',
    onProgress: ({ file, loaded, total }) => {
      if (options.quiet || !process.stderr.isTTY) return;
      if (file !== lastFile) process.stderr.write('\n');
      lastFile = file;
      process.stderr.write(`\r${file}: ${(loaded / 2 ** 20).toFixed(1)}${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''} MiB`);
    },
  });
}

/** Only the config.json of a local folder or a Hub id (cached like modelFilesFor's downloads): what planning needs. */
export async function modelConfigFor(source: string, options: { revision?: string } = {}): Promise<unknown> {
  if (existsSync(source)) {
    const path = join(source, 'config.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new CocktailError('MODEL_FILE_MISSING', `${path} is missing; a model folder in Hugging Face layout starts with it`, { file: path });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new CocktailError('MODEL_FILE_INVALID', `${path} is not valid JSON (${(error as Error).message})`, { file: path });
    }
  }
  return hubModelConfig(source, {
    storage: await openFileStorage(cacheDirectory()),
    endpoint: process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT,
    ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}),
    revision: options.revision ?? 'main',
  });
}
