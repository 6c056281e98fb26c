/**
 * ONNX Runtime (web, wasm backend) set up for where the engine runs. In a browser its WebAssembly must
 * be fetched from a URL the build emits: Vite's `?url` import copies the file into the build and gives
 * that URL (the runtime's glue code is bundled in the default entry, so the .wasm is all it needs). One
 * thread, because the studio is not cross-origin isolated and so has no SharedArrayBuffer. In Node,
 * onnxruntime-web finds its files in its own package and nothing is set.
 */
import * as ort from 'onnxruntime-web';

let ready: Promise<void> | undefined;

const inNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export function prepareOnnxRuntime(): Promise<void> {
  ready ??= (async () => {
    if (inNode()) return;
    const { default: wasm } = await import('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url');
    ort.env.wasm.wasmPaths = { wasm };
    ort.env.wasm.numThreads = 1;
  })();
  return ready;
}
