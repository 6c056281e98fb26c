import type { DType } from './dtype.ts';

/**
 * WGSL preludes composed in front of a kernel core, so each core is written once for every weight
 * encoding. A weight prelude declares the weight binding and one decoder:
 *
 *   @group(0) @binding(<binding>) var<storage, read> <name>: array<<storage type>>;
 *   fn load_<name>4(q: u32) -> vec4<f32>     // elements 4q .. 4q+3, decoded to f32
 *
 * An encoding is one more entry of WEIGHT_DECODERS (storage element type + body of the decoder).
 * f32 reads a vec4 at once; bf16 and f16 are packed two per u32 (element 2i in the low half, as
 * app/gpu/dtype.ts encodes them), so four of them are one vec2<u32> load, decoded without shader-f16.
 */
export interface WeightDecoder {
  /** The WGSL element type of the storage array. */
  storage: string;
  /** Body of `fn load_<name>4(q: u32) -> vec4<f32>`, where `$w` is the storage array. */
  body: string;
}

export const WEIGHT_DECODERS: Record<DType, WeightDecoder> = {
  f32: { storage: 'vec4<f32>', body: 'return $w[q];' },
  bf16: {
    storage: 'vec2<u32>',
    body: 'let p = $w[q];\n  return vec4<f32>(bitcast<f32>(p.x << 16u), bitcast<f32>(p.x & 0xffff0000u), bitcast<f32>(p.y << 16u), bitcast<f32>(p.y & 0xffff0000u));',
  },
  f16: { storage: 'vec2<u32>', body: 'let p = $w[q];\n  return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));' },
};

/** Whether a weight dtype has a prelude here (int8/int4 run on the kernels of shaders/matmul.wgsl with shaders/quant.wgsl). */
export function hasWeightPrelude(dtype: string): dtype is DType {
  return Object.hasOwn(WEIGHT_DECODERS, dtype);
}

/** The prelude that declares weight binding `binding` as `name` in `dtype` with its vec4 decoder. */
export function weightPrelude(dtype: DType, name: string, binding: number): string {
  const decoder = WEIGHT_DECODERS[dtype];
  return [
    `// weight prelude (app/gpu/wgsl.ts): ${name} in ${dtype}`,
    `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${decoder.storage}>;`,
    `fn load_${name}4(q: u32) -> vec4<f32> {`,
    `  ${decoder.body.replaceAll('$w', name)}`,
    '}',
    '',
  ].join('\n');
}

/** A shader assembled from preludes and a core, with the key the pipeline cache stores it under. */
export function assembleShader(core: { key: string; code: string }, preludes: readonly { key: string; code: string }[]): { key: string; code: string } {
  return { key: [core.key, ...preludes.map((prelude) => prelude.key)].join('+'), code: [...preludes.map((prelude) => prelude.code), core.code].join('\n') };
}
