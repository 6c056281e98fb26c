import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device.ts';

/** Debian's chromium package ships SwiftShader, a CPU Vulkan driver that Dawn can use (ENGINEERING.md §4). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const NODE_HELP =
  'In Node, WebGPU comes from the `webgpu` package (Dawn) over Vulkan. On a machine with a GPU install its ' +
  "Vulkan driver and Debian's libvulkan1. On a machine without one install Debian's chromium and libvulkan1 " +
  `("apt-get install chromium libvulkan1"): its SwiftShader driver (${SWIFTSHADER_ICD}) is used automatically, ` +
  'or point VK_ICD_FILENAMES at another Vulkan driver.';

let navigatorGpu: Promise<GPU> | undefined;

/**
 * A WebGPU device in Node through Dawn. Tries the system's Vulkan drivers first; if they offer no
 * adapter and SwiftShader is installed, retries on SwiftShader. Dawn keeps the process alive while
 * the GPU object lives: CLIs exit explicitly.
 */
export async function acquireNodeGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = await (navigatorGpu ??= createDawn());
  return acquireGpu(gpu, { help: NODE_HELP, ...options });
}

async function createDawn(): Promise<GPU> {
  process.env.XDG_RUNTIME_DIR ??= ensureDir(join(tmpdir(), 'cocktail-xdg'));
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  if (process.env.VK_ICD_FILENAMES || (await gpu.requestAdapter())) return gpu;
  if (!existsSync(SWIFTSHADER_ICD)) return gpu;
  // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates its instance, so set it before a second create().
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return create([]);
}

function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}
