import type { DType, FrozenDType } from './dtype.ts';

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

/**
 * int8 and int4 (app/gpu/quant.ts's layout: codes, then scales, then int4's zero points, in one
 * array<u32>) for the GEMM core of shaders/matmul_gpu.wgsl, whose names they use: the weight is W [N, K]
 * with N·K = dims.cols · dims.inner in both layouts that read it (nt: COLS = N, INNER = K; nn: COLS = K,
 * INNER = N), and K is INNER in nt and COLS in nn (LAYOUT). Element 4q starts a 4-run inside one word,
 * one row and one int4 group (K % 4 == 0, the group a multiple of 8 dividing K), so one scale serves it.
 * The decoders of shaders/quant.wgsl (int8_codes4, int4_codes4, ...) must come first: the caller puts
 * that file in front, which keeps this module free of shader imports.
 */
export const QUANT_WEIGHT_DECODERS: Record<'int8' | 'int4', WeightDecoder & { overrides: string }> = {
  int8: {
    storage: 'u32',
    overrides: '',
    body: 'let row_length = select(dims.cols, dims.inner, LAYOUT == 0u);\n  let scale = bitcast<f32>($w[int8_scales_at(dims.cols * dims.inner) + (4u * q) / row_length]);\n  return int8_codes4($w[q]) * scale;',
  },
  int4: {
    storage: 'u32',
    overrides: 'override RHS_GROUP: u32;  // elements per int4 scale and zero point\n',
    body: 'let elements = dims.cols * dims.inner;\n  let g = (4u * q) / RHS_GROUP;\n  let zero = nibble($w[int4_zeros_at(elements, RHS_GROUP) + g / 8u], g % 8u);\n  return int4_codes4($w[q / 2u], (q & 1u) * 4u, zero) * bitcast<f32>($w[int4_scales_at(elements) + g]);',
  },
};

/**
 * f16 weights read natively (only in a module that starts with `enable f16;`, on a device with
 * shader-f16): the same packed bytes seen as vec4<f16> (element 2i is the low half of word i on a
 * little-endian array, as app/gpu/dtype.ts packs them). load_<name>4 still widens to f32 for gemv.
 */
export function nativeF16WeightPrelude(name: string, binding: number): string {
  return [
    `// weight prelude (app/gpu/wgsl.ts): ${name} in f16, read natively`,
    `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec4<f16>>;`,
    `fn load_${name}4(q: u32) -> vec4<f32> {`,
    `  return vec4<f32>(${name}[q]);`,
    '}',
    '',
  ].join('\n');
}

/**
 * The tile prelude of the GEMM core (shaders/matmul_gpu.wgsl): the type its workgroup tile holds the
 * right operand in, and the loader that fills it. 'f32' stages the decoded f32 values (every weight
 * encoding, and X in tn); 'f16' stages native f16 weights as they are (after nativeF16WeightPrelude).
 */
export function rhsTilePrelude(kind: 'f32' | 'f16'): { key: string; code: string } {
  const load = kind === 'f32' ? 'load_rhs4(q)' : 'rhs[q]';
  return {
    key: `tile:${kind}`,
    code: `// tile prelude (app/gpu/wgsl.ts): ${kind}\nalias RhsTile = vec4<${kind}>;\nfn load_rhs_tile4(q: u32) -> RhsTile {\n  return ${load};\n}\n`,
  };
}

/** Whether a weight dtype has a prelude for the GEMM core here. */
export function hasWeightPrelude(dtype: string): dtype is FrozenDType {
  return Object.hasOwn(WEIGHT_DECODERS, dtype) || Object.hasOwn(QUANT_WEIGHT_DECODERS, dtype);
}

/** The prelude that declares weight binding `binding` as `name` in `dtype` with its vec4 decoder. */
export function weightPrelude(dtype: FrozenDType, name: string, binding: number): string {
  const decoder = dtype === 'int8' || dtype === 'int4' ? QUANT_WEIGHT_DECODERS[dtype] : WEIGHT_DECODERS[dtype];
  return [
    `// weight prelude (app/gpu/wgsl.ts): ${name} in ${dtype}`,
    ...('overrides' in decoder ? [decoder.overrides] : []),
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
