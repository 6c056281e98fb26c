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

/**
 * The row prelude of the GPU family's GEMM core (shaders/matmul_gpu.wgsl): which stored row of lhs
 * OUT row r reads in nt and nn. 'dense' reads row r; 'gather' reads row rows[r] of binding 4 (an i32
 * array), clamped into lhs so a bad index cannot read past it (the LM head's selected logits).
 */
export function lhsRowPrelude(kind: 'dense' | 'gather'): { key: string; code: string } {
  const code =
    kind === 'dense'
      ? 'fn lhs_row(r: u32) -> u32 {\n  return r;\n}\n'
      : [
          '@group(0) @binding(4) var<storage, read> gathered_rows: array<i32>;',
          'fn lhs_row(r: u32) -> u32 {',
          '  let stored_rows = (arrayLength(&lhs) * 4u - dims.lhs_offset) / dims.lhs_stride;',
          '  return min(u32(max(gathered_rows[r], 0)), stored_rows - 1u);',
          '}',
          '',
        ].join('\n');
  return { key: `rows:${kind}`, code: `// row prelude (app/gpu/wgsl.ts): ${kind}\n${code}` };
}

/** A shader assembled from preludes and a core, with the key the pipeline cache stores it under. */
export function assembleShader(core: { key: string; code: string }, preludes: readonly { key: string; code: string }[]): { key: string; code: string } {
  return { key: [core.key, ...preludes.map((prelude) => prelude.key)].join('+'), code: [...preludes.map((prelude) => prelude.code), core.code].join('\n') };
}
