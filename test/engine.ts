import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineBridge } from '../app/state/bridge.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { openFileStorage } from '../app/store/fs.ts';
import type { Storage } from '../app/store/storage.ts';
import { createEngine } from '../workers/engine.ts';
import { fixturePath } from './fixtures.ts';
import { startHubServer, type HubServer } from './hub-server.ts';
import { messagePortWorker } from './ports.ts';

/** The Hub id the worker tests load the fixture model under. */
export const TEST_REPO = 'aidreams/aidreams260K';

export interface TestEngine {
  /** The studio's side of the protocol. */
  bridge: EngineBridge;
  /** The engine's storage: files in a temporary folder. */
  storage: Storage;
  /** Serves the fixture model in Hub layout as TEST_REPO. */
  server: HubServer;
  close(): Promise<void>;
}

/**
 * The studio's engine in this Node process, as worker tests need it: createEngine behind a bridge over
 * a real MessageChannel (a structured-clone boundary, as in the browser), storage on files, and the
 * real tiny model served in Hub layout (and `moreRepos`, repo id -> folder). `acquire` is acquireTestGpu,
 * or noGpu for commands that must not touch one.
 */
export async function startTestEngine(acquire: () => Promise<GpuContext>, moreRepos: Record<string, string> = {}): Promise<TestEngine> {
  const server = await startHubServer({ [TEST_REPO]: fixturePath('models/aidreams260K'), ...moreRepos });
  const root = await mkdtemp(join(tmpdir(), 'cocktail-engine-'));
  const storage = await openFileStorage(root);
  const channel = new MessageChannel();
  const handle = createEngine((event) => channel.port2.postMessage(event), acquire, async () => storage);
  channel.port2.onmessage = (event) => handle(event.data);
  const bridge = new EngineBridge(messagePortWorker(channel.port1));
  return {
    bridge,
    storage,
    server,
    close: async () => {
      bridge.dispose();
      channel.port2.close();
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** An acquire that fails: for commands that must do their work without a GPU. */
export function noGpu(why: string): () => Promise<GpuContext> {
  return () => Promise.reject(new Error(why));
}
