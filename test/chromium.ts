import { existsSync } from 'node:fs';

/** Which Chromium the browser tests drive: $COCKTAIL_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumExecutable(): string {
  const path = process.env.COCKTAIL_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}. The browser and end-to-end tests need Chromium with WebGPU: ` +
        `on Debian run "apt-get install chromium", or set COCKTAIL_CHROMIUM to another Chromium or Chrome binary.`,
    );
  }
  return path;
}

/**
 * Flags for headless Chromium with WebGPU on machines without a GPU (ENGINEERING.md §4): SwiftShader
 * serves the adapter, and the network-chatty background services stay off on this closed network.
 */
export function chromiumWebGpuArgs(): string[] {
  return [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--no-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
}
