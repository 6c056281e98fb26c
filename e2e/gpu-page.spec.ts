import { expect, test } from '@playwright/test';
import { watchConsole } from './console.ts';

test.describe('GPU page', () => {
  test('shows the adapter, its features and limits', async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Cocktail Studio' })).toBeVisible();
    await expect(page.getByTestId('adapter')).toContainText(/swiftshader|vendor/i);
    await expect(page.getByRole('list', { name: 'Features the engine uses' })).toContainText('subgroups');
    await expect(page.getByRole('row', { name: /maxStorageBufferBindingSize/ }).first()).toContainText(/GiB|MiB/);
    expect(errors).toEqual([]);
  });

  test('the kernel self-test runs lora_linear in the worker and every case matches the reference', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await page.goto('/');
    const run = page.getByRole('button', { name: 'Run kernel self-test' });
    await expect(run).toBeEnabled();
    await run.click();
    await expect(page.getByRole('progressbar', { name: 'Self-test progress' })).toBeVisible();
    const verdict = page.getByTestId('selftest-report').getByRole('status');
    await expect(verdict).toContainText(/All 36 cases pass: max relative error \d\.\d\de-\d+/, { timeout: 150_000 });
    const gflops = Number((await page.getByTestId('gflops').textContent())!.replace(' GFLOP/s', ''));
    expect(gflops).toBeGreaterThan(0);
    await page.getByText('Every case').click();
    await expect(page.getByRole('row', { name: /M=130 N=192 K=576 R=16 f16/ })).toContainText('pass');
    await page.screenshot({ path: testInfo.outputPath('studio-selftest.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  test('storage shows usage and quota, and the persistence answer', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByTestId('storage-estimate')).toContainText(/used of .* available/);
    await expect(page.getByTestId('persistence')).not.toHaveText('Checking…');
    await expect(page.getByRole('row', { name: /checkpoints/ })).toContainText('items');
  });

  test('asking for persistent storage shows the browser’s answer, and a refusal is not fatal', async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto('/');
    await page.getByRole('button', { name: 'Ask for persistent storage' }).click();
    await expect(page.getByTestId('persistence')).toHaveText(/^(Persistent|The browser refused persistent storage)/);
    await expect(page.getByRole('button', { name: 'Run kernel self-test' })).toBeEnabled();
    expect(errors).toEqual([]);
  });
});

test.describe('without WebGPU', () => {
  test('the page says WebGPU is unavailable and what to do, instead of going blank', async ({ page }) => {
    const errors = watchConsole(page);
    // Hide WebGPU from the page and its workers before any script runs, as a browser without it would.
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    });
    await page.context().route('**/assets/engine.worker-*.js', async (route) => {
      const response = await route.fetch();
      const body = `Object.defineProperty(WorkerNavigator.prototype, 'gpu', { get: () => undefined });\n${await response.text()}`;
      await route.fulfill({ response, body });
    });
    try {
      await page.goto('/');
      await expect(page.getByRole('heading', { name: 'WebGPU is not available' })).toBeVisible();
      await expect(page.getByText('--enable-unsafe-webgpu').first()).toBeVisible();
      await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
      expect(errors).toEqual([]);
    } finally {
      // The service worker also fetches the worker script to cache it, and may still be doing so when the
      // test ends: a route handler cut off mid-fetch is otherwise an error outside any test, which stopped
      // the next spec from running on CI.
      await page.context().unrouteAll({ behavior: 'ignoreErrors' });
    }
  });
});
