/**
 * The one model the worker keeps on the GPU between requests (generation, engine checks), keyed by
 * source@revision. Requests for the same model share it, side by side; a request for another model
 * waits until the current one's users are done, then frees it and loads the other. Training and
 * evaluation call release() first, so their run has the GPU memory to itself.
 */
import type { GpuContext } from '../app/gpu/device.ts';
import type { LoadedModel } from '../app/model/load.ts';

interface Entry {
  key: string;
  ctx: GpuContext;
  model: Promise<LoadedModel>;
  users: number;
  idle: (() => void)[];
}

export class SessionModel {
  private current: Entry | undefined;

  /** Runs `work` with the model `key` on `ctx`, loading it (once) with `load` when it is not the current one. */
  async use<T>(key: string, ctx: GpuContext, load: () => Promise<LoadedModel>, work: (model: LoadedModel) => Promise<T>): Promise<T> {
    const entry = await this.acquire(key, ctx, load);
    try {
      return await work(await entry.model);
    } finally {
      entry.users--;
      if (entry.users === 0) entry.idle.splice(0).forEach((wake) => wake());
    }
  }

  /** Frees the model once nobody uses it. */
  async release(): Promise<void> {
    while (this.current && this.current.users > 0) await this.drained(this.current);
    this.free();
  }

  /** The key of the model on the GPU now (for tests and diagnostics). */
  get key(): string | undefined {
    return this.current?.key;
  }

  private async acquire(key: string, ctx: GpuContext, load: () => Promise<LoadedModel>): Promise<Entry> {
    for (;;) {
      const entry = this.current;
      if (entry && entry.key === key && entry.ctx === ctx) {
        entry.users++;
        return entry;
      }
      if (entry && entry.users > 0) {
        await this.drained(entry);
        continue;
      }
      this.free();
      const fresh: Entry = { key, ctx, model: load(), users: 1, idle: [] };
      this.current = fresh;
      // A model that failed to load is forgotten, so the next request tries again.
      fresh.model.catch(() => {
        if (this.current === fresh) this.current = undefined;
      });
      return fresh;
    }
  }

  private drained(entry: Entry): Promise<void> {
    return new Promise((resolve) => entry.idle.push(resolve));
  }

  private free(): void {
    const entry = this.current;
    this.current = undefined;
    entry?.model.then(
      (model) => model.gpu.destroy(),
      () => undefined,
    );
  }
}
