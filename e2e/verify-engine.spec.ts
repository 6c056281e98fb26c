import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '../workers/protocol.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, test } from './studio.ts';

/**
 * "Verify engine" in the production build: the bundled module worker downloads the fixture model from
 * a Hub-layout server into IndexedDB, then runs ONNX Runtime (its WebAssembly fetched from the URL the
 * build emitted) and our WGSL engine on the same prompt. Driven through the worker's own protocol, so
 * it checks the worker bundle whatever the Model page looks like.
 */
const DIST = process.env.COCKTAIL_DIST ?? 'dist';

function engineWorkerUrl(): string {
  const file = readdirSync(join(DIST, 'assets')).find((name) => /^engine\.worker-[\w-]+\.js$/.test(name));
  if (!file) throw new Error(`No engine worker in ${DIST}/assets; build the studio first (COCKTAIL_DIST=${DIST} npx vite build)`);
  return `/assets/${file}`;
}

test('the bundled engine worker verifies itself against ONNX Runtime on a model it downloaded', async ({ page, hub }) => {
  const errors = watchConsole(page);
  await page.goto('/');
  const outcome = await page.evaluate(
    async ({ workerUrl, endpoint, source, version }) => {
      const worker = new Worker(workerUrl, { type: 'module' });
      let nextId = 1;
      const request = (type: string, payload: unknown) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const id = nextId++;
          worker.addEventListener('message', (event: MessageEvent) => {
            const message = event.data as { id?: number; type: string; result?: Record<string, unknown>; error?: { code: string; message: string } };
            if (message.id !== id) return;
            if (message.type === 'result') resolve(message.result!);
            if (message.type === 'error') reject(new Error(`${message.error!.code}: ${message.error!.message}`));
          });
          worker.postMessage({ v: version, id, type, payload });
        });
      try {
        const summary = await request('model.load', { source, revision: 'main', hubEndpoint: endpoint });
        const check = await request('model.verify', { source, revision: 'main', hubEndpoint: endpoint });
        return { summary, check };
      } finally {
        worker.terminate();
      }
    },
    { workerUrl: engineWorkerUrl(), endpoint: hub.endpoint, source: FIXTURE_MODEL, version: PROTOCOL_VERSION },
  );
  expect(outcome.summary).toMatchObject({ source: FIXTURE_MODEL, hasOnnx: true, layers: 4 });
  expect(outcome.check).toMatchObject({ passed: true, argmaxDisagreements: 0 });
  expect(errors).toEqual([]);
});
