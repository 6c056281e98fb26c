import { expect, test } from '@playwright/test';
import { resolve } from 'node:path';
import { watchConsole } from './console.ts';
import { serveDist } from './static-server.ts';

const DIST = resolve(process.env.COCKTAIL_DIST ?? 'dist');

test.describe('Offline', () => {
  test('after one visit the built studio opens with its server gone', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    const server = await serveDist(DIST);
    await page.goto(`${server.origin}/`);
    await expect(page.getByRole('heading', { name: 'Cocktail Studio' })).toBeVisible();
    // The service worker has precached the build once it controls the page.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) await new Promise((done) => navigator.serviceWorker.addEventListener('controllerchange', done, { once: true }));
    });

    await server.close();
    await page.context().setOffline(true);
    await page.goto(`${server.origin}/#/model`);
    await expect(page.getByRole('heading', { name: 'Cocktail Studio' })).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Studio' }).getByRole('link', { name: 'Model' })).toHaveAttribute('aria-current', 'page');
    // The engine worker comes from the cache too: it answers with this GPU's description.
    await page.goto(`${server.origin}/#/start`);
    await expect(page.getByTestId('adapter')).toContainText(/swiftshader|vendor/i);
    await page.screenshot({ path: testInfo.outputPath('offline-start.png'), fullPage: true });
    expect(errors.filter((error) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch|net::/.test(error))).toEqual([]);
  });
});
