/**
 * One tab owns a run. Two tabs of the studio share the storage, so two trainings of one run would
 * write the same checkpoint key, each over the other's. The Web Locks API (navigator.locks, shared by
 * every tab and worker of the origin, released by the browser when the holder's tab closes) makes the
 * tab whose worker holds `cocktail-run:<runId>` the run's owner: another tab's attempt is refused with
 * who owns it, or, when it asks to take over, waits until the owner lets go and then continues.
 * Where there is no navigator.locks (the Node CLI: one process, one run) the work simply runs.
 */
import { CocktailError } from '../app/errors.ts';
import { runChannelName } from './protocol.ts';

export interface RunOwner {
  /** The step the owner's run record last reached, and when it was written (ms since 1970). */
  step: number;
  updatedAt: number;
}

export class RunOwnedElsewhereError extends CocktailError {}

const lockName = runChannelName;

function locksOf(): LockManager | undefined {
  return (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
}

/**
 * Runs `work` while this tab owns run `runId`. Without `takeOver`, a run another tab owns is refused at
 * once with RUN_OWNED_ELSEWHERE naming what that tab's run record says; with it, this waits for that tab to
 * close (or finish) — `onWait` hears it — and then runs. An abort while waiting rejects with CANCELLED.
 */
export async function asRunOwner<T>(
  runId: string,
  work: () => Promise<T>,
  options: { takeOver?: boolean; signal?: AbortSignal; owner?: () => Promise<RunOwner | undefined>; onWait?: () => void } = {},
): Promise<T> {
  const locks = locksOf();
  if (!locks) return work();
  if (!options.takeOver) {
    let refused = false;
    const result = await locks.request(lockName(runId), { ifAvailable: true }, async (lock) => {
      if (!lock) {
        refused = true;
        return undefined;
      }
      return { value: await work() };
    });
    if (!refused) return (result as { value: T }).value;
    const owner = await options.owner?.();
    const where = owner ? ` (its record is at step ${owner.step}, written ${new Date(owner.updatedAt).toLocaleTimeString()})` : '';
    throw new RunOwnedElsewhereError(
      'RUN_OWNED_ELSEWHERE',
      `Run "${runId}" is being trained in another tab of this studio${where}. It is read-only here: follow it in that tab, or take it over here once that tab is closed.`,
      { runId, ...(owner ? { ownerStep: owner.step, ownerUpdatedAt: owner.updatedAt } : {}) },
    );
  }
  options.onWait?.();
  try {
    return await locks.request(lockName(runId), { ...(options.signal ? { signal: options.signal } : {}) }, () => work());
  } catch (error) {
    if (options.signal?.aborted) throw new CocktailError('CANCELLED', `Taking over run "${runId}" was cancelled while the other tab still held it`, { runId });
    throw error;
  }
}
