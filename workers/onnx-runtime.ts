/**
 * ONNX Runtime (web, wasm backend) set up for where the engine runs. In a browser its WebAssembly must
 * be fetched from a URL the build emits: Vite's `?url` import copies the file into the build and gives
 * that URL (the runtime's glue code is bundled in the wasm-only entry that `#onnxruntime` resolves to
 * there, so the 14 MB .wasm is all it needs; the default entry's JSEP build would be 28 MB). One
 * thread, because the studio is not cross-origin isolated and so has no SharedArrayBuffer. In Node,
 * onnxruntime-web finds its files in its own package and nothing is set.
 */
import * as ort from '#onnxruntime';

let ready: Promise<void> | undefined;

const inNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export function prepareOnnxRuntime(): Promise<void> {
  ready ??= (async () => {
    if (inNode()) return;
    const { default: wasm } = await import('onnxruntime-web/ort-wasm-simd-threaded.wasm?url');
    ort.env.wasm.wasmPaths = { wasm };
    ort.env.wasm.numThreads = 1;
  })();
  return ready;
}
