// quant.wgsl: decoders of int8 and int4 frozen weights, prepended to the kernels that read them
// (matmul.wgsl, lora_linear.wgsl). They are pure functions of words a kernel has already read, so
// each kernel keeps its own bindings and names; app/gpu/quant.ts writes the layout and is the reference.
//
// A quantized W [N, K] is one array<u32> of E = N·K elements:
//   int8  codes: element i in byte i % 4 of word i / 4 (two's complement), then N f32 row scales
//         from word int8_scales_at(E).                                   W = scale[i / K] · q
//   int4  codes: element i in bits 4·(i % 8) of word i / 8 (unsigned), then E / G f32 group scales
//         from word int4_scales_at(E), then the zero points, 4 bits each, 8 per word, from word
//         int4_zeros_at(E, G).                          W = scale[g] · (q − zero[g]), g = i / G
// G divides K, so a group never straddles two rows; a 4-run of elements starting at a multiple of 4
// lies in one word and one group (G is a multiple of 8), which the 4-wide decoders rely on.

fn int8_scales_at(elements: u32) -> u32 {
  return (elements + 3u) / 4u;
}

fn int4_scales_at(elements: u32) -> u32 {
  return elements / 8u;
}

fn int4_zeros_at(elements: u32, group: u32) -> u32 {
  return elements / 8u + elements / group;
}

// Signed byte `lane` (0..3) of `word`: shifted to the top, then arithmetically back down.
fn int8_code(word: u32, lane: u32) -> f32 {
  return f32(bitcast<i32>(word << (24u - 8u * lane)) >> 24u);
}

// All four signed bytes of `word`, element order.
fn int8_codes4(word: u32) -> vec4<f32> {
  let top = vec4<u32>(word) << vec4<u32>(24u, 16u, 8u, 0u);
  return vec4<f32>(bitcast<vec4<i32>>(top) >> vec4<u32>(24u));
}

fn nibble(word: u32, lane: u32) -> u32 {
  return (word >> (4u * lane)) & 0xfu;
}

// q − zero of nibble `lane` (0..7) of `word`.
fn int4_code(word: u32, lane: u32, zero: u32) -> f32 {
  return f32(i32(nibble(word, lane)) - i32(zero));
}

// q − zero of the four nibbles from `first` (0 or 4) of `word`, element order.
fn int4_codes4(word: u32, first: u32, zero: u32) -> vec4<f32> {
  let codes = (vec4<u32>(word) >> (vec4<u32>(0u, 4u, 8u, 12u) + vec4<u32>(4u * first))) & vec4<u32>(0xfu);
  return vec4<f32>(vec4<i32>(codes) - vec4<i32>(i32(zero)));
}
