/**
 * The UI side of the worker protocol: typed requests with progress and cancellation. Every pending
 * request is rejected when the worker errors or dies, so no caller waits forever.
 */
import { CocktailError, type ErrorReport } from '../errors.ts';
import type { SchemaStatus } from '../store/idb.ts';
import { PROTOCOL_VERSION, type CommandType, type Commands, type ToWorker, type WorkerEvent } from '../../workers/protocol.ts';

/** What the bridge needs of a Worker (a DOM Worker satisfies it; so does a MessagePort in tests). */
export interface WorkerLike {
  postMessage(message: ToWorker): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'error' | 'messageerror', listener: (event: Event) => void): void;
  terminate(): void;
}

export class EngineError extends CocktailError {
  static from(report: ErrorReport): EngineError {
    return new EngineError(report.code, report.message, report.details ?? {});
  }
}

export interface BridgeListeners {
  /** The worker lost its GPU device; the next GPU command acquires a new one. */
  onDeviceLost?(error: EngineError): void;
  /** The GPU raised an error no command was waiting for (WebGPU's uncapturederror). */
  onGpuError?(error: EngineError): void;
  /** An error event tied to no request (e.g. the worker did not understand a message). */
  onStrayError?(error: EngineError): void;
  /** The worker crashed or could not start; the bridge is dead and rejects every request. */
  onDead?(error: EngineError): void;
  /** The worker's IndexedDB connection met another tab's schema version. */
  onSchemaStatus?(status: SchemaStatus): void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: EngineError): void;
  onProgress?: (progress: unknown) => void;
  onQueued?: (behind: CommandType | null) => void;
}

export interface RequestOptions<K extends CommandType> {
  onProgress?: (progress: Commands[K]['progress']) => void;
  /** The request waits for the GPU behind a running job of this type (training, say); null when its turn comes. */
  onQueued?: (behind: CommandType | null) => void;
  signal?: AbortSignal;
}

export class EngineBridge {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: EngineError | undefined;

  constructor(
    private readonly worker: WorkerLike,
    private readonly listeners: BridgeListeners = {},
  ) {
    worker.addEventListener('message', (event) => this.receive(event.data as WorkerEvent));
    worker.addEventListener('error', (event) => {
      const message = (event as Partial<ErrorEvent>).message;
      const detail = message ? `: ${message}` : '';
      this.die(new EngineError('WORKER_CRASHED', `The engine worker stopped${detail}. Reload the page to start it again.`));
    });
    worker.addEventListener('messageerror', () => {
      this.die(new EngineError('WORKER_CRASHED', 'A message from the engine worker could not be read. Reload the page.'));
    });
  }

  get isDead(): boolean {
    return this.dead !== undefined;
  }

  request<K extends CommandType>(type: K, payload: Commands[K]['payload'], options: RequestOptions<K> = {}): Promise<Commands[K]['result']> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (result: unknown) => void,
        reject,
        ...(options.onProgress ? { onProgress: options.onProgress as (progress: unknown) => void } : {}),
        ...(options.onQueued ? { onQueued: options.onQueued } : {}),
      });
      const { signal } = options;
      signal?.addEventListener('abort', () => this.worker.postMessage({ v: PROTOCOL_VERSION, type: 'cancel', id }), { once: true });
      this.worker.postMessage({ v: PROTOCOL_VERSION, id, type, payload } as ToWorker);
    });
  }

  /** Stops the worker and rejects everything still pending. */
  dispose(): void {
    this.die(new EngineError('WORKER_STOPPED', 'The engine worker was stopped.'));
    this.worker.terminate();
  }

  private receive(event: WorkerEvent): void {
    if (event?.v !== PROTOCOL_VERSION) {
      this.listeners.onStrayError?.(new EngineError('PROTOCOL_VERSION', `The engine answered with protocol version ${String(event?.v)}, expected ${PROTOCOL_VERSION}; reload the page.`));
      return;
    }
    switch (event.type) {
      case 'ready':
        return;
      case 'result':
        this.settle(event.id)?.resolve(event.result);
        return;
      case 'progress':
        this.pending.get(event.id)?.onProgress?.(event.progress);
        return;
      case 'error': {
        const error = EngineError.from(event.error);
        const pending = event.id === undefined ? undefined : this.settle(event.id);
        if (pending) pending.reject(error);
        else this.listeners.onStrayError?.(error);
        return;
      }
      case 'queued':
        this.pending.get(event.id)?.onQueued?.(event.behind);
        return;
      case 'gpu-error':
        this.listeners.onGpuError?.(EngineError.from(event.error));
        return;
      case 'device-lost':
        this.listeners.onDeviceLost?.(EngineError.from(event.error));
        return;
      case 'storage-schema':
        this.listeners.onSchemaStatus?.(event.status);
        return;
      default: {
        const unknown: { type?: unknown } = event;
        this.listeners.onStrayError?.(new EngineError('UNKNOWN_MESSAGE', `The engine sent an unknown event type "${String(unknown.type)}"`));
      }
    }
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }

  private die(error: EngineError): void {
    if (this.dead) return;
    this.dead = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.listeners.onDead?.(error);
  }
}
