import { describe, expect, it } from 'vitest';
import { GpuQueue } from './gpu-queue.ts';

/** A job that runs until `finish` is called, recording when it starts. */
function job(log: string[], name: string) {
  let finish!: (value: string) => void;
  let fail!: (error: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return {
    run: () => {
      log.push(`start ${name}`);
      return done;
    },
    finish: () => finish(name),
    fail: (error: Error) => fail(error),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('GpuQueue: one GPU job at a time', () => {
  it('runs a job that arrives while training runs only after training, and tells it what it waits for', async () => {
    const queue = new GpuQueue<string>();
    const log: string[] = [];
    const waits: (string | null)[] = [];
    const train = job(log, 'train.run');
    const generate = job(log, 'model.generate');
    const training = queue.run('train.run', train.run);
    const generating = queue.run('model.generate', generate.run, { onWait: (behind) => waits.push(behind) });
    await settle();
    expect(log).toEqual(['start train.run']);
    expect(waits).toEqual(['train.run']);
    expect(queue.current).toBe('train.run');
    train.finish();
    expect(await training).toBe('train.run');
    await settle();
    expect(log).toEqual(['start train.run', 'start model.generate']);
    expect(waits).toEqual(['train.run', null]);
    generate.finish();
    expect(await generating).toBe('model.generate');
    expect(queue.current).toBeUndefined();
  });

  it('keeps arrival order, and a job that fails still hands the GPU to the next', async () => {
    const queue = new GpuQueue<string>();
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => job(log, name)) as [ReturnType<typeof job>, ReturnType<typeof job>, ReturnType<typeof job>];
    const first = queue.run('a', a.run);
    const second = queue.run('b', b.run);
    const third = queue.run('c', c.run);
    a.fail(new Error('out of memory'));
    await expect(first).rejects.toThrow('out of memory');
    await settle();
    b.finish();
    await second;
    await settle();
    c.finish();
    await third;
    expect(log).toEqual(['start a', 'start b', 'start c']);
  });

  it('a request cancelled while it waits never runs and rejects with CANCELLED', async () => {
    const queue = new GpuQueue<string>();
    const log: string[] = [];
    const train = job(log, 'train.run');
    const evaluate = job(log, 'eval.run');
    const training = queue.run('train.run', train.run);
    const controller = new AbortController();
    const evaluating = queue.run('eval.run', evaluate.run, { signal: controller.signal });
    controller.abort();
    await expect(evaluating).rejects.toMatchObject({ code: 'CANCELLED' });
    train.finish();
    await training;
    expect(log).toEqual(['start train.run']);
    expect(queue.current).toBeUndefined();
  });
});
