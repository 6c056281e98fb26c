import { CocktailError } from '../errors.ts';

export type GpuErrorCode =
  | 'NO_WEBGPU' // navigator.gpu is missing: the browser has no WebGPU or it is switched off
  | 'NO_ADAPTER' // WebGPU exists but no adapter was offered
  | 'DEVICE_REQUEST_FAILED'
  | 'DEVICE_LOST'
  | 'OUT_OF_MEMORY'
  | 'VALIDATION'
  | 'INTERNAL_GPU';

/** A failure of the GPU itself: no adapter, a lost device, an error the driver reported. */
export class GpuError extends CocktailError {
  declare readonly code: GpuErrorCode;
  constructor(code: GpuErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** A kernel call whose tensors do not fit together; thrown before anything is dispatched. */
export class ShapeError extends CocktailError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SHAPE_MISMATCH', message, details);
  }
}

/** A kernel call that would exceed a device limit (binding size, workgroup count); thrown before dispatch. */
export class LimitError extends CocktailError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LIMIT_EXCEEDED', message, details);
  }
}

/** What a person should do when the browser offers no WebGPU. */
export const WEBGPU_HELP =
  'Use a browser with WebGPU: Chrome or Edge 113+ on Windows, macOS or ChromeOS; on Linux, Chrome or ' +
  'Chromium with --enable-unsafe-webgpu (and --enable-features=Vulkan) or chrome://flags/#enable-unsafe-webgpu; ' +
  'Safari 26+; Firefox 141+ on Windows. Check that hardware acceleration is on in the browser settings.';
