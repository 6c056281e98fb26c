/** Small encoding helpers shared by the op wrappers. */
import { isViewedBuffer, tensorBinding, type GpuTensor } from '../tensor.ts';

/** What a binding is given: a tensor (a view binds only its own bytes) or a whole buffer (uniforms, placeholders). */
export type BindingResource = GPUBuffer | GpuTensor;

/**
 * Bind groups made so far, per device, by pipeline and bound ranges. A training step binds the same
 * buffers every time, so after the first step no bind group is made (each is a driver call, and on
 * SwiftShader a costly one); the least recently used are forgotten past the capacity, which also
 * bounds what buffers destroyed or forgotten by the uniform cache keep alive.
 */
class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();

  constructor(private readonly capacity: number) {}

  get(key: string, make: () => GPUBindGroup): GPUBindGroup {
    let group = this.groups.get(key);
    if (group) {
      this.groups.delete(key);
    } else {
      group = make();
      if (this.groups.size >= this.capacity) this.groups.delete(this.groups.keys().next().value as string);
    }
    this.groups.set(key, group);
    return group;
  }
}

/** Several thousand dispatches per step of a 30-layer model, times the graphs (training, evaluation) and adapters of a run. */
const BIND_GROUP_CAPACITY = 16384;
const caches = new WeakMap<GPUDevice, BindGroupCache>();
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function identity(object: object): number {
  let id = identities.get(object);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(object, id);
  }
  return id;
}

function bufferBinding(binding: number, resource: BindingResource): GPUBufferBinding {
  const isTensor = 'shape' in resource;
  const buffer = isTensor ? resource.buffer : resource;
  if (isViewedBuffer(buffer) && !(isTensor && resource.offset !== undefined)) {
    throw new Error(`binding ${binding}: buffer "${buffer.label}" holds several tensors; bind the tensor (its view), not the whole buffer`);
  }
  return isTensor ? tensorBinding(resource) : { buffer };
}

/** A bind group for group 0 of `pipeline` from [binding, tensor or buffer] pairs, made once per distinct set of bound ranges. */
export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, entries: readonly (readonly [number, BindingResource])[]): GPUBindGroup {
  const bindings = entries.map(([binding, resource]) => [binding, bufferBinding(binding, resource)] as const);
  const key = `${identity(pipeline)}|${bindings.map(([binding, { buffer, offset, size }]) => `${binding}:${identity(buffer)}@${offset ?? 0}+${size ?? 'all'}`).join('|')}`;
  let cache = caches.get(device);
  if (!cache) {
    cache = new BindGroupCache(BIND_GROUP_CAPACITY);
    caches.set(device, cache);
  }
  return cache.get(key, () =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map(([binding, resource]) => ({ binding, resource })),
    }),
  );
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
