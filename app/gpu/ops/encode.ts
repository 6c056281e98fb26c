/** Small encoding helpers shared by the op wrappers. */

/** A bind group for group 0 of `pipeline` from [binding, buffer] pairs. */
export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, entries: readonly (readonly [number, GPUBuffer])[]): GPUBindGroup {
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
  });
}

/** Packs uniform fields (u32 or f32, in order) into a 16-byte aligned buffer for ctx.uniforms.get. */
export function packUniforms(fields: readonly (readonly [type: 'u32' | 'f32' | 'i32', value: number])[]): ArrayBuffer {
  const data = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const view = new DataView(data);
  fields.forEach(([type, value], i) => {
    if (type === 'f32') view.setFloat32(i * 4, value, true);
    else if (type === 'i32') view.setInt32(i * 4, value, true);
    else view.setUint32(i * 4, value, true);
  });
  return data;
}

/** @workgroup_size of the grid-stride elementwise kernels (residual, swiglu, rope, embedding). */
const ELEMENTWISE_WORKGROUP_SIZE = 256;
/** Enough invocations to fill the largest GPUs; the kernels' grid-stride loops cover the rest. */
const MAX_ELEMENTWISE_WORKGROUPS = 2048;

/** Workgroups for a grid-stride kernel over `count` items: never over any device's per-dimension limit. */
export function gridStrideWorkgroups(count: number): number {
  return Math.min(Math.ceil(count / ELEMENTWISE_WORKGROUP_SIZE), MAX_ELEMENTWISE_WORKGROUPS);
}
