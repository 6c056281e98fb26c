import { EngineBridge, type BridgeListeners } from './bridge.ts';

/** Starts the engine worker (a module worker, bundled by Vite) and wraps it in a bridge. */
export function startEngine(listeners: BridgeListeners): EngineBridge {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'cocktail-engine' });
  return new EngineBridge(worker, listeners);
}
