/**
 * The fixture model aidreams260K with a longer context (max_position_embeddings) in its config.json,
 * everything else (tokenizer, weights) its own files. Runs, the token view and the audit clamp
 * max_length to the model's context (app/train/context-length.ts); tests that need whole examples
 * longer than the real model's 128 positions, tokenized by its real tokenizer, serve this copy.
 */
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from './fixtures.ts';

export interface WideContextModel {
  /** The model folder (Hub layout's files, flat). */
  dir: string;
  remove(): Promise<void>;
}

export async function wideContextModel(positions: number): Promise<WideContextModel> {
  const source = fixturePath('models/aidreams260K');
  const dir = await mkdtemp(join(tmpdir(), 'cocktail-wide-context-'));
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (entry.isFile() && entry.name !== 'config.json') await copyFile(join(source, entry.name), join(dir, entry.name));
  }
  const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: positions }, null, 2));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
