// The engine worker: owns the GPUDevice and runs every command off the UI thread.
import { acquireGpu } from '../app/gpu/device.ts';
import { createEngine } from './engine.ts';
import { PROTOCOL_VERSION, type WorkerEvent } from './protocol.ts';

interface WorkerScope {
  postMessage(message: WorkerEvent): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

const scope = self as unknown as WorkerScope;
const handle = createEngine(
  (event) => scope.postMessage(event),
  () => acquireGpu(navigator.gpu, { label: 'engine worker' }),
);
scope.addEventListener('message', (event) => handle(event.data));
scope.postMessage({ v: PROTOCOL_VERSION, type: 'ready' });
