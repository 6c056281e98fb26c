/**
 * GPU errors that never pass silently. WebGPU reports an allocation that failed or a command that
 * broke a rule only through error scopes (or, outside any scope, the device's uncapturederror event):
 * the call itself returns an invalid object and the submit that uses it is dropped. A training step
 * that then maps its staging buffer reads the previous step's numbers. So every unit of GPU work —
 * a training step (however many submits it takes), an evaluation batch, a generation step, an upload —
 * runs inside an out-of-memory and a validation scope, and its results are read only after both
 * scopes came back empty.
 *
 * Scopes belong to the device, not to a call chain: work that awaits in between must not share the
 * device with other work. The engine runs one GPU job at a time (workers/gpu-queue.ts), so it does not.
 */
import type { GpuContext } from './device.ts';
import { classifyGpuError } from './device.ts';
import { GpuError } from './errors.ts';

/** What to do about an out-of-memory error while training or evaluating. */
export const OUT_OF_MEMORY_ADVICE = 'Free GPU memory (close other GPU-heavy tabs and programs) or make the run smaller: a smaller batch_size, recompute: true, a shorter max_length, or a smaller model.';
const VALIDATION_ADVICE = 'This is a bug in Cocktail Studio or in the GPU driver; please report it with this message.';

export interface ScopedWork<T> {
  value: T;
  /** Resolves with the GpuError the work caused (out-of-memory first), or undefined. */
  errors: Promise<GpuError | undefined>;
}

/**
 * Runs synchronous GPU work (allocations, encoding, submits) inside an out-of-memory and a validation
 * scope. The scopes are closed before this returns, also when `work` throws.
 */
export function withinErrorScopes<T>(ctx: GpuContext, what: string, work: () => T): ScopedWork<T> {
  const close = openErrorScopes(ctx);
  let value: T;
  try {
    value = work();
  } catch (error) {
    void close(what).catch(() => undefined);
    throw error;
  }
  return { value, errors: close(what) };
}

/**
 * Like withinErrorScopes for work that awaits (an upload that reads files between allocations): the
 * scopes stay open until `work` settles. When the scopes report an error, `dispose` frees what the work
 * made and the error is thrown.
 */
export async function guardGpu<T>(ctx: GpuContext, what: string, work: () => T | Promise<T>, dispose?: (value: T) => void): Promise<T> {
  const close = openErrorScopes(ctx);
  let value: T;
  try {
    value = await work();
  } catch (error) {
    await close(what).catch(() => undefined);
    throw error;
  }
  const error = await close(what);
  if (error) {
    dispose?.(value);
    throw error;
  }
  return value;
}

/** Throws the scopes' error, if any: call before reading anything the work wrote. */
export async function throwGpuErrors(work: ScopedWork<unknown>): Promise<void> {
  const error = await work.errors;
  if (error) throw error;
}

function openErrorScopes(ctx: GpuContext): (what: string) => Promise<GpuError | undefined> {
  const { device } = ctx;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  return async (what) => {
    // Popped in reverse order of pushing; both pops are issued before either is awaited.
    const validation = device.popErrorScope();
    const outOfMemory = device.popErrorScope();
    const [invalid, memory] = await Promise.all([validation, outOfMemory]);
    const error = memory ?? invalid;
    if (!error) return undefined;
    ctx.uniforms.clear();
    return describeFailure(classifyGpuError(error), what);
  };
}

/** The GPU's own message, what failed, and what to do. */
export function describeFailure(error: GpuError, what: string): GpuError {
  const advice = error.code === 'OUT_OF_MEMORY' ? OUT_OF_MEMORY_ADVICE : VALIDATION_ADVICE;
  return new GpuError(error.code, `${what} failed on the GPU. ${error.message.trim()} ${advice}`, { ...error.details, what });
}

/** The device's loss if it is already lost (never waits). */
export async function deviceLoss(ctx: GpuContext): Promise<GpuError | undefined> {
  // An already-settled ctx.lost wins the race: its reaction is queued before the fallback's.
  return Promise.race([ctx.lost, Promise.resolve(undefined)]);
}
