import { defineConfig } from '@playwright/test';
import { chromiumExecutable, chromiumWebGpuArgs } from './test/chromium.ts';

const port = Number(process.env.COCKTAIL_E2E_PORT ?? 4173);

// End-to-end tests drive real Chromium (Debian's, or $COCKTAIL_CHROMIUM) with WebGPU against the
// production build served by `vite preview`. Playwright cannot download browsers on these machines.
export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env.COCKTAIL_E2E_OUT ?? 'test-results/e2e',
  timeout: 180_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: 'test-results/e2e-report' }]] : 'list',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'on',
    trace: 'retain-on-failure',
    launchOptions: { executablePath: chromiumExecutable(), args: chromiumWebGpuArgs() },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
