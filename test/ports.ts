import { Worker as NodeWorker } from 'node:worker_threads';
import type { WorkerLike } from '../app/state/bridge.ts';
import type { ToWorker } from '../workers/protocol.ts';

/**
 * Runs the bridge and the engine in one Node process over a real MessageChannel: the same protocol
 * code as the studio, with a structured-clone boundary between them.
 */
export function messagePortWorker(port: MessagePort): WorkerLike {
  port.start();
  return {
    postMessage: (message: ToWorker) => port.postMessage(message),
    addEventListener: (type: string, listener: (event: MessageEvent) => void) => port.addEventListener(type as 'message', listener),
    terminate: () => port.close(),
  } as WorkerLike;
}

/** A real Node worker thread seen through the DOM Worker events the bridge listens to. */
export function nodeThreadWorker(source: string): WorkerLike {
  const thread = new NodeWorker(source, { eval: true });
  const listeners = { message: [] as ((event: MessageEvent) => void)[], error: [] as ((event: Event) => void)[] };
  thread.on('message', (data: unknown) => listeners.message.forEach((listener) => listener({ data } as MessageEvent)));
  thread.on('error', (error: Error) => listeners.error.forEach((listener) => listener({ message: error.message } as unknown as Event)));
  return {
    postMessage: (message: ToWorker) => thread.postMessage(message),
    addEventListener: (type: string, listener: (event: MessageEvent) => void) => {
      if (type === 'message') listeners.message.push(listener);
      if (type === 'error') listeners.error.push(listener as (event: Event) => void);
    },
    terminate: () => void thread.terminate(),
  } as WorkerLike;
}
