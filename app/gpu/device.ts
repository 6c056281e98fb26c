import { GpuError, WEBGPU_HELP } from './errors.ts';

/** The optional features the engine can use when an adapter offers them. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const satisfies readonly GPUFeatureName[];

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters (SwiftShader, lavapipe): fine for correctness, not for speed. */
  isFallbackAdapter: boolean;
}

/** A plain, cloneable description of the GPU a context runs on (sent to the UI, printed by the CLI). */
export interface GpuInfo {
  adapter: AdapterSummary;
  /** Which of WANTED_FEATURES the device was created with. */
  wantedFeatures: Record<(typeof WANTED_FEATURES)[number], boolean>;
  /** Every feature the adapter offers. */
  features: string[];
  /** The device's limits, which equal the adapter's: we ask for all of them. */
  limits: Record<string, number>;
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly info: GpuInfo;
  readonly pipelines: PipelineCache;
  /** Small uniform buffers cached by content: a training step re-binds the same dimensions every time. */
  readonly uniforms: UniformCache;
  /** A 16-byte storage buffer to bind where a shader declares a binding that an override switches off. */
  readonly placeholder: GPUBuffer;
  /** Resolves (never rejects) with a DEVICE_LOST error when the device is lost, including on destroy(). */
  readonly lost: Promise<GpuError>;
  /** Subscribes to errors the device raises outside any error scope; returns an unsubscribe function. */
  onError(listener: (error: GpuError) => void): () => void;
  destroy(): void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  label?: string;
  /** What to tell a person when there is no WebGPU or no adapter; defaults to browser advice. */
  help?: string;
  /** Wanted features not to ask for, as on an adapter that lacks them (tests of the routes that work without). */
  withoutFeatures?: readonly GPUFeatureName[];
}

/**
 * Requests an adapter and a device with the adapter's real limits and every wanted feature it has.
 * The WebGPU defaults (128 MiB bindings, 16 KiB workgroup memory) are far below what most GPUs offer,
 * and a model's embedding alone can be larger, so asking for less would fail real models needlessly.
 */
export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuContext> {
  const help = options.help ?? WEBGPU_HELP;
  if (!gpu) throw new GpuError('NO_WEBGPU', `WebGPU is not available here. ${help}`);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new GpuError('NO_ADAPTER', `WebGPU is present but offered no adapter. ${help}`);
  }
  const requiredFeatures = WANTED_FEATURES.filter((feature) => adapter.features.has(feature) && !options.withoutFeatures?.includes(feature));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: options.label ?? 'cocktail-studio',
      requiredFeatures,
      requiredLimits: numericLimits(adapter.limits),
    });
  } catch (error) {
    throw new GpuError('DEVICE_REQUEST_FAILED', `The adapter refused a device: ${String(error)}`);
  }
  return createContext(device, adapter);
}

function createContext(device: GPUDevice, adapter: GPUAdapter): GpuContext {
  const listeners = new Set<(error: GpuError) => void>();
  device.addEventListener('uncapturederror', (event) => {
    const error = classifyGpuError((event as GPUUncapturedErrorEvent).error);
    for (const listener of listeners) listener(error);
  });
  const lost = device.lost.then(
    (info) =>
      new GpuError('DEVICE_LOST', `The GPU device was lost (${info.reason}): ${info.message || 'no message'}`, {
        reason: info.reason,
      }),
  );
  return {
    device,
    info: describeGpu(adapter, device),
    pipelines: new PipelineCache(device),
    uniforms: new UniformCache(device),
    placeholder: device.createBuffer({ label: 'placeholder', size: 16, usage: GPUBufferUsage.STORAGE }),
    lost,
    onError(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    destroy() {
      device.destroy();
    },
  };
}

export function classifyGpuError(error: GPUError): GpuError {
  if (isInstance(error, 'GPUOutOfMemoryError')) {
    return new GpuError('OUT_OF_MEMORY', `The GPU ran out of memory: ${error.message}`);
  }
  if (isInstance(error, 'GPUValidationError')) {
    return new GpuError('VALIDATION', `WebGPU validation error: ${error.message}`);
  }
  return new GpuError('INTERNAL_GPU', `GPU internal error: ${error.message}`);
}

/** instanceof by global class name, for runtimes that do not define every GPUError subclass. */
function isInstance(value: unknown, className: string): boolean {
  const ctor = (globalThis as Record<string, unknown>)[className];
  return typeof ctor === 'function' && value instanceof (ctor as new () => unknown);
}

function describeGpu(adapter: GPUAdapter, device: GPUDevice): GpuInfo {
  const info = adapter.info;
  const wantedFeatures = Object.fromEntries(WANTED_FEATURES.map((f) => [f, device.features.has(f)])) as GpuInfo['wantedFeatures'];
  return {
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    },
    wantedFeatures,
    features: [...adapter.features].sort(),
    limits: numericLimits(device.limits),
  };
}

/** GPUSupportedLimits keeps its fields as prototype getters; copy them into a plain object. */
function numericLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (let proto: object | null = limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (limits as unknown as Record<string, unknown>)[key];
      if (typeof value === 'number' && !(key in out)) out[key] = value;
    }
  }
  return out;
}

/**
 * Compute pipelines cached by shader key + entry point + override constants. Creating a pipeline
 * compiles WGSL to the native shader language, which costs milliseconds to seconds; a training step
 * dispatches the same few dozen pipelines thousands of times.
 */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /**
   * @param shaderKey a stable name for `code` (the op's stem); two different codes must not share a key.
   * @param constants WGSL `override` values; part of the key.
   */
  get(shaderKey: string, code: string, entryPoint: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = pipelineKey(shaderKey, entryPoint, constants);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      let module = this.modules.get(shaderKey);
      if (!module) {
        module = this.device.createShaderModule({ label: shaderKey, code });
        this.modules.set(shaderKey, module);
      }
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }
}

export function pipelineKey(shaderKey: string, entryPoint: string, constants: Record<string, number>): string {
  const sorted = Object.keys(constants)
    .sort()
    .map((name) => `${name}=${constants[name]}`)
    .join(',');
  return `${shaderKey}:${entryPoint}{${sorted}}`;
}

/** Uniform buffers keyed by their bytes, least recently used dropped past `capacity`. */
export class UniformCache {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 512,
  ) {}

  /**
   * Forgets every cached buffer. Called after a GPU error: a uniform whose allocation failed is an
   * invalid buffer, and keeping it would fail every later submit that binds the same values.
   */
  clear(): void {
    this.buffers.clear();
  }

  get(label: string, data: ArrayBuffer): GPUBuffer {
    const key = `${label}:${Array.from(new Uint32Array(data)).join(',')}`;
    let buffer = this.buffers.get(key);
    if (buffer) {
      this.buffers.delete(key);
    } else {
      buffer = this.device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(buffer, 0, data);
      if (this.buffers.size >= this.capacity) {
        // Forget the oldest without destroy(): an encoder not yet submitted may still bind it, and
        // the garbage collector frees it once nothing does.
        const oldestKey = this.buffers.keys().next().value as string;
        this.buffers.delete(oldestKey);
      }
    }
    this.buffers.set(key, buffer);
    return buffer;
  }
}
