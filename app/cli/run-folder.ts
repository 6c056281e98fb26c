/**
 * A run folder (`cocktail train --out DIR`) holds one run's state and adapters. Nothing in it is
 * replaced without the user saying so: a second process is kept out by a lock file, and training
 * into a folder that already holds the run needs --resume (continue) or --restart (start over).
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CocktailError } from '../errors.ts';
import { processAlive } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import { deleteCheckpoints, latestCheckpointMeta, listCheckpoints } from '../train/checkpoint.ts';

export const LOCK_FILE = 'cocktail.lock';

/**
 * Takes the folder's lock (a file created exclusively, holding this process's id); the returned
 * function releases it. A lock left by a process that no longer exists (killed) is taken over.
 */
export async function lockRunFolder(out: string): Promise<() => Promise<void>> {
  await mkdir(out, { recursive: true });
  const path = join(out, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new CocktailError('RUN_LOCKED', `${out} is in use by another cocktail process (pid ${holder}, lock file ${path}); wait for it to finish, or train into another --out`, { path, pid: holder });
      }
      // The process that held it is gone: the lock is stale.
      await rm(path, { force: true });
    }
  }
  throw new CocktailError('RUN_LOCKED', `${out}: could not take the lock ${path}; another process keeps taking it`, { path });
}

export type RunFolderIntent = 'new' | 'resume' | 'restart';

/**
 * Checks what the folder holds against what the user asked for: a new run refuses a folder that
 * already holds this run (or adapters of another), a resume needs a checkpoint, a restart deletes
 * the run's checkpoints first.
 */
export async function prepareRunFolder(out: string, storage: Storage, runId: string, intent: RunFolderIntent): Promise<void> {
  const stored = await listCheckpoints(storage, runId);
  if (intent === 'resume') {
    if (stored.length > 0) return;
    const others = [...new Set((await storage.list('checkpoints')).filter((item) => /@\d+$/.test(item.key)).map((item) => item.key.replace(/@\d+$/, '')))];
    throw new CocktailError(
      'RUN_NOTHING_TO_RESUME',
      `nothing to resume: ${out} holds no checkpoint of run "${runId}"${others.length > 0 ? ` (it holds checkpoints of ${others.map((id) => `"${id}"`).join(', ')}: pass that --run-id)` : ''}. Leave out --resume to start a new run.`,
      { out, runId },
    );
  }
  if (intent === 'restart') {
    await deleteCheckpoints(storage, runId);
    for (const item of await storage.list('adapters', `${runId}/`)) await storage.delete('adapters', item.key);
    return;
  }
  if (stored.length > 0) {
    const latest = await latestCheckpointMeta(storage, runId);
    const where = latest ? ` with a checkpoint at step ${latest.step} of ${latest.totalSteps}` : ` with ${stored.length} checkpoint(s)`;
    throw new CocktailError(
      'RUN_EXISTS',
      `${out} already holds run "${runId}"${where}. Continue it with --resume, or start it over with --restart (which deletes its checkpoints), or train into another --out.`,
      { out, runId },
    );
  }
  const adapters = existsSync(out) ? (await readdir(out)).filter((name) => name === 'adapter' || name.startsWith('adapter-')) : [];
  if (adapters.length > 0) {
    throw new CocktailError('RUN_EXISTS', `${out} already holds adapters of an earlier run (${adapters.join(', ')}); a new run would overwrite them. Pass --restart to replace them, or train into another --out.`, { out });
  }
}
