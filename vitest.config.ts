import { searchForWorkspaceRoot } from 'vite';
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { chromiumExecutable, chromiumWebGpuArgs } from './test/chromium.ts';
import { FIXTURES } from './test/fixtures.ts';

// Three tiers (ENGINEERING.md §3): plain unit tests in Node; GPU tests on Dawn in Node (the `webgpu`
// package); and the same GPU tests plus browser-only ones (IndexedDB) in real Chromium with WebGPU.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['app/**/*.test.ts', 'workers/**/*.test.ts', 'bench/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.gpu.test.ts', '**/*.browser.test.ts'],
        },
      },
      {
        test: {
          name: 'gpu',
          environment: 'node',
          include: ['app/**/*.gpu.test.ts', 'workers/**/*.gpu.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One Dawn device per worker process; SwiftShader already uses every core.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['app/**/*.gpu.test.ts', 'app/**/*.browser.test.ts', 'workers/**/*.browser.test.ts'],
          // Node-only: the CLI spawns processes; model tests read fixture folders from disk (the studio's
          // end-to-end journey loads the same model in Chromium through the Hub layout). Training's
          // browser tests (app/train/*.browser.test.ts) use random-weight models and IndexedDB instead.
          // The router's tests (app/route) load the fixture model from disk too.
          exclude: ['app/cli/**', 'app/model/**', 'app/train/**/*.gpu.test.ts', 'app/experiment/**', 'app/route/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumExecutable(), args: chromiumWebGpuArgs() },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
        // Browser tests read the shared fixtures (../shared/fixtures) through the browser commands API.
        server: { fs: { allow: [searchForWorkspaceRoot(process.cwd()), FIXTURES] } },
        // Every dependency the browser tests load, pre-bundled before the first test: one found later
        // (the engine worker's imports are not scanned) makes Vite re-bundle and reload the page, which
        // kills a worker in the middle of its test (test/optimize-deps.test.ts walks the worker's imports and
        // checks this list). '#onnxruntime' resolves to onnxruntime-web/wasm here.
        optimizeDeps: { include: ['@huggingface/jinja', '@huggingface/tokenizers', 'fast-deep-equal', 'fflate', 'hyparquet', 'idb', 'onnxruntime-web/wasm', 'yaml'] },
      },
    ],
  },
});
