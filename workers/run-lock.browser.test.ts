import { describe, expect, it } from 'vitest';
import { asRunOwner } from './run-lock.ts';

/**
 * Web Locks in real Chromium. Locks are shared by every tab and worker of the origin, so two holders
 * in this page contend exactly as two tabs of the studio do.
 */
function held() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}

describe('one tab owns a run (navigator.locks)', () => {
  it("refuses a second tab's attempt to train the same run, saying who owns it, while another run is free", async () => {
    const first = held();
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const owner = asRunOwner('run-a', async () => {
      firstStarted();
      await first.released;
      return 'first';
    });
    await started;
    await expect(asRunOwner('run-a', async () => 'second', { owner: async () => ({ step: 12, updatedAt: Date.UTC(2026, 0, 1, 9, 30) }) })).rejects.toMatchObject({
      code: 'RUN_OWNED_ELSEWHERE',
      details: { runId: 'run-a', ownerStep: 12 },
      message: expect.stringMatching(/^Run "run-a" is being trained in another tab of this studio \(its record is at step 12, written .+\)\. It is read-only here/),
    });
    expect(await asRunOwner('run-b', async () => 'other run')).toBe('other run');
    first.release();
    expect(await owner).toBe('first');
  });

  it('takes over once the owner lets go (its tab closed), and not before', async () => {
    const first = held();
    const log: string[] = [];
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const owner = asRunOwner('run-c', async () => {
      firstStarted();
      await first.released;
      log.push('first done');
    });
    await started;
    let waiting = false;
    const takeover = asRunOwner(
      'run-c',
      async () => {
        log.push('taken over');
        return 'resumed here';
      },
      { takeOver: true, onWait: () => (waiting = true) },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(waiting).toBe(true);
    expect(log).toEqual([]);
    first.release();
    await owner;
    expect(await takeover).toBe('resumed here');
    expect(log).toEqual(['first done', 'taken over']);
  });

  it('a take-over cancelled while it waits rejects with CANCELLED and never runs', async () => {
    const first = held();
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const owner = asRunOwner('run-d', async () => {
      firstStarted();
      await first.released;
    });
    await started;
    const controller = new AbortController();
    let ran = false;
    const takeover = asRunOwner('run-d', async () => void (ran = true), { takeOver: true, signal: controller.signal });
    controller.abort();
    await expect(takeover).rejects.toMatchObject({ code: 'CANCELLED' });
    first.release();
    await owner;
    expect(ran).toBe(false);
  });
});
