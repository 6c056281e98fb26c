// embedding.wgsl: token embedding gather
//
//   out[bt, c] = E[ids[bt], c]
//
// E [V, C] is frozen and stored as f32, bf16 or f16 in an array<u32> (E_DTYPE); halves are packed two
// per word, element 2i in the low 16 bits. A table too large for one binding is split by vocab rows
// into parts; one dispatch per part binds rows [row_start, row_start + row_count) and writes only the
// rows whose id falls in that range, so the parts together write every row.
// An id ≥ V never reads memory: its output row is written with zeros by every dispatch, and the
// optional flag (HAS_FLAG) is raised to 1 (the caller clears it and also validates ids on the CPU).
//
// Shapes: ids [BT] u32; table part [row_count, C]; out [BT, C] f32; flag [1] u32.
// Workgroup 256; grid-stride over BT·C outputs (consecutive threads read consecutive columns).
// Dispatch (per part): (min(ceil(BT·C / 256), 2048)).
// Bindings: 0 dims (uniform), 1 ids, 2 table part, 3 out, 4 flag.

struct Dims {
  BT: u32,
  C: u32,
  row_start: u32,
  row_count: u32,
  V: u32,
}

override E_DTYPE: u32 = 0u;   // 0 f32, 1 bf16, 2 f16
override HAS_FLAG: bool = false;

const WORKGROUP_SIZE = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> flag: atomic<u32>;

fn load_e(i: u32) -> f32 {
  if (E_DTYPE == 0u) {
    return bitcast<f32>(table[i]);
  }
  let word = table[i >> 1u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (E_DTYPE == 1u) {
    return bitcast<f32>(half << 16u);
  }
  return unpack2x16float(half).x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn embedding_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let C = dims.C;
  let total = dims.BT * C;
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < total; i += stride) {
    let bt = i / C;
    let c = i - bt * C;
    let id = ids[bt];
    if (id >= dims.V) {
      out[i] = 0.0;
      if (HAS_FLAG && c == 0u) {
        atomicMax(&flag, 1u);
      }
      continue;
    }
    // Ids below row_start wrap to a large u32 and fail the same test as ids past the part.
    let row = id - dims.row_start;
    if (row < dims.row_count) {
      out[i] = load_e(row * C + c);
    }
  }
}
