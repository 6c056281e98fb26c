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
 * The row prelude of both families' product cores (shaders/matmul.wgsl, shaders/matmul_gpu.wgsl): which
 * stored row of lhs OUT row r reads in nt and nn. 'dense' reads row r; 'gather' reads row rows[r] of
 * binding 4 (an i32 array), clamped into lhs (each core says how many f32 it holds: lhs_elements) so a
 * bad index cannot read past it (the LM head's selected logits).
 */
export function lhsRowPrelude(kind: 'dense' | 'gather'): { key: string; code: string } {
  const code =
    kind === 'dense'
      ? 'fn lhs_row(r: u32) -> u32 {\n  return r;\n}\n'
      : [
          '@group(0) @binding(4) var<storage, read> gathered_rows: array<i32>;',
          'fn lhs_row(r: u32) -> u32 {',
          '  let stored_rows = (lhs_elements() - dims.lhs_offset) / dims.lhs_stride;',
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

/**
 * LoRA dropout's keep-mask, bit for bit as dropoutMask in app/gpu/reference/lora_linear.ts, for every
 * kernel that applies it (lora_linear.wgsl's U = drop(X)·Aᵀ and dA, and the 'lora_dx' epilogue of both
 * product cores). Binding 6 holds the micro-batch's seed and step: the trainer writes it once per
 * micro-batch (writeBuffer), so the uniforms and bind groups that carry the rest stay the same every step.
 */
export function dropoutPrelude(): { key: string; code: string } {
  const code = `// dropout prelude (app/gpu/wgsl.ts): pcg4d is Jarzynski & Olano's hash ("Hash Functions for GPU
// Rendering", JCGT 2020); element (m, k) is kept when word k % 4 of pcg4d(k / 4, m, key) >= threshold.
struct DropoutStep {
  seed: u32,
  step: u32,
}
@group(0) @binding(6) var<uniform> dropout_step: DropoutStep;

fn pcg4d(input: vec4<u32>) -> vec4<u32> {
  var v = input * 1664525u + 1013904223u;
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  v ^= v >> vec4<u32>(16u);
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  return v;
}

// The key of the mask of the layer at this offset in this micro-batch ("drop" in ASCII keeps the stream apart).
fn dropout_key(offset: u32) -> vec2<u32> {
  return pcg4d(vec4<u32>(dropout_step.seed, dropout_step.step, offset, 0x64726f70u)).xy;
}

// keep_scale where element (m, 4·chunk + j) is kept, 0 where it is dropped, for j = 0..3.
fn dropout4(key: vec2<u32>, m: u32, chunk: u32, threshold: u32, keep_scale: f32) -> vec4<f32> {
  let bits = pcg4d(vec4<u32>(chunk, m, key.x, key.y));
  return select(vec4<f32>(0.0), vec4<f32>(keep_scale), bits >= vec4<u32>(threshold));
}
`;
  return { key: 'dropout', code };
}

/**
 * What a product core adds to each output before it is stored (=, or += with ACCUMULATE):
 * OUT[r, c] = scale·Σ + term(r, c). 'none' adds nothing. 'linear' is a projection's forward
 * (lora_linear): bias[c], and s·U[r, :]·B[c, :]ᵀ with U = drop(X)·Aᵀ [rows, R] and B [cols, R].
 * 'lora_dx' is its input gradient's LoRA branch: s·mask(r, c)·(G[r, :]·A[:, c]) with G = dY·B [rows, R],
 * A [R, cols] and the dropout mask when `dropout` (the caller puts dropoutPrelude() in front).
 * The prelude declares the bindings it reads (5 its parameters, 7-11 the tensors) and
 *
 *   const EPILOGUE: bool;                          // false: the core skips the hook
 *   fn epilogue_block(r0: u32, c0: u32) -> Block   // the terms of OUT[r0 .. r0+3, c0 .. c0+3], c0 % 4 == 0
 *   fn epilogue_at(r: u32, c: u32) -> f32          // the term of one output
 *
 * Rows and columns past the edge read the last valid one (the core does not store them).
 */
export type EpilogueKind = { kind: 'none' } | { kind: 'linear'; bias: boolean; lora: boolean } | { kind: 'lora_dx'; dropout: boolean };

export function epiloguePrelude(epilogue: EpilogueKind): { key: string; code: string } {
  if (epilogue.kind === 'none') {
    return {
      key: 'epilogue:none',
      code: [
        '// epilogue prelude (app/gpu/wgsl.ts): none',
        'const EPILOGUE: bool = false;',
        'fn epilogue_block(r0: u32, c0: u32) -> Block {',
        '  return Block();',
        '}',
        'fn epilogue_at(r: u32, c: u32) -> f32 {',
        '  return 0.0;',
        '}',
        '',
      ].join('\n'),
    };
  }
  const common = `struct EpilogueParams {
  lora_scale: f32,
  R: u32,
  dropout_offset: u32,
  threshold: u32,
  keep_scale: f32,
}
@group(0) @binding(5) var<uniform> epilogue_params: EpilogueParams;
const EPILOGUE: bool = true;

fn epilogue_rows(r0: u32) -> vec4<u32> {
  return min(vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u), vec4<u32>(dims.rows - 1u));
}

fn epilogue_cols(c0: u32) -> vec4<u32> {
  return min(vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4<u32>(dims.cols - 1u));
}
`;
  if (epilogue.kind === 'linear') {
    const { bias, lora } = epilogue;
    const code = [
      `// epilogue prelude (app/gpu/wgsl.ts): linear${bias ? ' + bias' : ''}${lora ? ' + s·U·Bᵀ' : ''}`,
      common,
      ...(bias ? ['@group(0) @binding(7) var<storage, read> epilogue_bias: array<f32>;'] : []),
      ...(lora ? ['@group(0) @binding(8) var<storage, read> epilogue_u: array<f32>;', '@group(0) @binding(9) var<storage, read> epilogue_b: array<f32>;'] : []),
      '',
      '// s·U·Bᵀ as an outer product per rank: 8 loads per 16 multiply-adds.',
      'fn epilogue_block(r0: u32, c0: u32) -> Block {',
      '  let cs = epilogue_cols(c0);',
      '  var t0 = vec4<f32>(0.0);',
      '  var t1 = vec4<f32>(0.0);',
      '  var t2 = vec4<f32>(0.0);',
      '  var t3 = vec4<f32>(0.0);',
      ...(lora
        ? [
            '  let R = epilogue_params.R;',
            '  let u_rows = epilogue_rows(r0) * R;',
            '  let b_rows = cs * R;',
            '  for (var q = 0u; q < R; q++) {',
            '    let uv = vec4<f32>(epilogue_u[u_rows.x + q], epilogue_u[u_rows.y + q], epilogue_u[u_rows.z + q], epilogue_u[u_rows.w + q]) * epilogue_params.lora_scale;',
            '    let bv = vec4<f32>(epilogue_b[b_rows.x + q], epilogue_b[b_rows.y + q], epilogue_b[b_rows.z + q], epilogue_b[b_rows.w + q]);',
            '    t0 += uv.x * bv;',
            '    t1 += uv.y * bv;',
            '    t2 += uv.z * bv;',
            '    t3 += uv.w * bv;',
            '  }',
          ]
        : []),
      ...(bias
        ? [
            '  let bias = vec4<f32>(epilogue_bias[cs.x], epilogue_bias[cs.y], epilogue_bias[cs.z], epilogue_bias[cs.w]);',
            '  t0 += bias;',
            '  t1 += bias;',
            '  t2 += bias;',
            '  t3 += bias;',
          ]
        : []),
      '  return Block(t0, t1, t2, t3);',
      '}',
      '',
      'fn epilogue_at(r: u32, c: u32) -> f32 {',
      '  var t = 0.0;',
      ...(lora
        ? [
            '  let R = epilogue_params.R;',
            '  for (var q = 0u; q < R; q++) {',
            '    t += epilogue_u[r * R + q] * epilogue_b[c * R + q];',
            '  }',
            '  t *= epilogue_params.lora_scale;',
          ]
        : []),
      ...(bias ? ['  t += epilogue_bias[c];'] : []),
      '  return t;',
      '}',
      '',
    ].join('\n');
    return { key: `epilogue:linear${bias ? '+bias' : ''}${lora ? '+lora' : ''}`, code };
  }
  const { dropout } = epilogue;
  const code = [
    `// epilogue prelude (app/gpu/wgsl.ts): the LoRA branch of dX, s·${dropout ? 'mask·' : ''}(G·A)`,
    common,
    '@group(0) @binding(10) var<storage, read> epilogue_g: array<f32>;',
    '@group(0) @binding(11) var<storage, read> epilogue_a: array<f32>;',
    '',
    '// G·A as an outer product per rank (A is [R, COLS]).',
    'fn epilogue_block(r0: u32, c0: u32) -> Block {',
    '  let cs = epilogue_cols(c0);',
    '  let R = epilogue_params.R;',
    '  let g_rows = epilogue_rows(r0) * R;',
    '  var t0 = vec4<f32>(0.0);',
    '  var t1 = vec4<f32>(0.0);',
    '  var t2 = vec4<f32>(0.0);',
    '  var t3 = vec4<f32>(0.0);',
    '  for (var q = 0u; q < R; q++) {',
    '    let gv = vec4<f32>(epilogue_g[g_rows.x + q], epilogue_g[g_rows.y + q], epilogue_g[g_rows.z + q], epilogue_g[g_rows.w + q]);',
    '    let row = q * dims.cols;',
    '    let av = vec4<f32>(epilogue_a[row + cs.x], epilogue_a[row + cs.y], epilogue_a[row + cs.z], epilogue_a[row + cs.w]);',
    '    t0 += gv.x * av;',
    '    t1 += gv.y * av;',
    '    t2 += gv.z * av;',
    '    t3 += gv.w * av;',
    '  }',
    '  let s = epilogue_params.lora_scale;',
    ...(dropout
      ? [
          '  let key = dropout_key(epilogue_params.dropout_offset);',
          '  let chunk = c0 / 4u;',
          '  let threshold = epilogue_params.threshold;',
          '  let keep = epilogue_params.keep_scale;',
          '  return Block(',
          '    s * t0 * dropout4(key, r0, chunk, threshold, keep),',
          '    s * t1 * dropout4(key, r0 + 1u, chunk, threshold, keep),',
          '    s * t2 * dropout4(key, r0 + 2u, chunk, threshold, keep),',
          '    s * t3 * dropout4(key, r0 + 3u, chunk, threshold, keep));',
        ]
      : ['  return Block(s * t0, s * t1, s * t2, s * t3);']),
    '}',
    '',
    'fn epilogue_at(r: u32, c: u32) -> f32 {',
    '  let R = epilogue_params.R;',
    '  var t = 0.0;',
    '  for (var q = 0u; q < R; q++) {',
    '    t += epilogue_g[r * R + q] * epilogue_a[q * dims.cols + c];',
    '  }',
    '  t *= epilogue_params.lora_scale;',
    ...(dropout ? ['  t *= dropout4(dropout_key(epilogue_params.dropout_offset), r, c / 4u, epilogue_params.threshold, epilogue_params.keep_scale)[c % 4u];'] : []),
    '  return t;',
    '}',
    '',
  ].join('\n');
  return { key: `epilogue:lora_dx${dropout ? '+dropout' : ''}`, code };
}
