/**
 * One GPU job at a time. Training, evaluation, generation, the engine check and the kernel self-test
 * each allocate GPU memory that the others may need (a second copy of the model beside a training run
 * is how a laptop GPU runs out), and WebGPU's error scopes belong to the device, so two jobs that
 * interleave would read each other's errors (app/gpu/scope.ts). Jobs run in the order they came; one
 * that has to wait is told what it waits for, so the page can say "waiting for training".
 */
import { CocktailError } from '../app/errors.ts';

export class GpuQueue<Kind extends string> {
  private running: Kind | undefined;
  private readonly waiting: { kind: Kind; start: () => void }[] = [];

  /** What runs now, if anything. */
  get current(): Kind | undefined {
    return this.running;
  }

  /**
   * Runs `job` once every job queued before it has finished. `onWait` hears what runs now when this job
   * has to wait, and null when its turn comes; an abort while waiting rejects with CANCELLED and never runs the job.
   */
  async run<T>(kind: Kind, job: () => Promise<T>, options: { signal?: AbortSignal; onWait?: (running: Kind | null) => void } = {}): Promise<T> {
    if (this.running !== undefined || this.waiting.length > 0) {
      options.onWait?.(this.running ?? this.waiting[0]!.kind);
      await this.turn(kind, options.signal);
      options.onWait?.(null);
    } else {
      this.running = kind;
    }
    try {
      return await job();
    } finally {
      this.running = undefined;
      const next = this.waiting.shift();
      if (next) {
        this.running = next.kind;
        next.start();
      }
    }
  }

  private turn(kind: Kind, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        kind,
        start: () => {
          signal?.removeEventListener('abort', cancel);
          resolve();
        },
      };
      const cancel = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new CocktailError('CANCELLED', `The ${kind} request was cancelled while it waited for the GPU`));
      };
      if (signal?.aborted) {
        cancel();
        return;
      }
      signal?.addEventListener('abort', cancel, { once: true });
      this.waiting.push(entry);
    });
  }
}
