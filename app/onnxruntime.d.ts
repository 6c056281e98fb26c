/**
 * `#onnxruntime` (package.json "imports") is ONNX Runtime Web as each place needs it: its Node build
 * in Node, and in browsers its wasm-only build, whose WebAssembly is about half the size of the default
 * build's (which carries the WebGPU execution provider the engine check does not use).
 */
declare module '#onnxruntime' {
  export * from 'onnxruntime-web';
}
