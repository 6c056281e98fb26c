import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../app/gpu/device.ts';
import type { LoadedModel } from '../app/model/load.ts';
import { SessionModel } from './session-model.ts';

/**
 * The session's bookkeeping only: which model is loaded, when it is freed, who waits. What a model
 * is does not matter here, so a model is a name with a destroy() that is counted.
 */
function models() {
  const loaded: string[] = [];
  const destroyed: string[] = [];
  const load = (name: string) => async () => {
    loaded.push(name);
    return { gpu: { destroy: () => destroyed.push(name) } } as unknown as LoadedModel;
  };
  return { loaded, destroyed, load };
}
const ctx = {} as GpuContext;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('the session model', () => {
  it('loads a model once and keeps it for the next request of the same model', async () => {
    const session = new SessionModel();
    const { loaded, load } = models();
    await session.use('a', ctx, load('a'), async () => undefined);
    await session.use('a', ctx, load('a'), async () => undefined);
    expect(loaded).toEqual(['a']);
    expect(session.key).toBe('a');
  });

  it('frees the model when another is requested, after the requests using it are done', async () => {
    const session = new SessionModel();
    const { loaded, destroyed, load } = models();
    let finishA!: () => void;
    const usingA = session.use('a', ctx, load('a'), () => new Promise<void>((resolve) => (finishA = resolve)));
    await tick();
    const usingB = session.use('b', ctx, load('b'), async () => undefined);
    await tick();
    expect(destroyed).toEqual([]);
    finishA();
    await Promise.all([usingA, usingB]);
    await tick();
    expect(loaded).toEqual(['a', 'b']);
    expect(destroyed).toEqual(['a']);
  });

  it('shares one model between requests running side by side', async () => {
    const session = new SessionModel();
    const { loaded, load } = models();
    await Promise.all([session.use('a', ctx, load('a'), tick), session.use('a', ctx, load('a'), tick)]);
    expect(loaded).toEqual(['a']);
  });

  it('frees the model on release, so a training run has the GPU memory', async () => {
    const session = new SessionModel();
    const { destroyed, load } = models();
    await session.use('a', ctx, load('a'), async () => undefined);
    await session.release();
    await tick();
    expect(destroyed).toEqual(['a']);
    expect(session.key).toBeUndefined();
  });

  it('forgets a model that failed to load, so the next request tries again', async () => {
    const session = new SessionModel();
    const failing = () => Promise.reject(new Error('no such model'));
    await expect(session.use('a', ctx, failing, async () => undefined)).rejects.toThrow('no such model');
    expect(session.key).toBeUndefined();
    const { loaded, load } = models();
    await session.use('a', ctx, load('a'), async () => undefined);
    expect(loaded).toEqual(['a']);
  });

  it('loads the model again on a new GPU device', async () => {
    const session = new SessionModel();
    const { loaded, load } = models();
    await session.use('a', ctx, load('a'), async () => undefined);
    await session.use('a', {} as GpuContext, load('a'), async () => undefined);
    expect(loaded).toEqual(['a', 'a']);
  });
});
