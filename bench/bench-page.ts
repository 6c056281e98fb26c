/**
 * Opens a benchmark page of bench/browser in real Chromium (Debian's, or $COCKTAIL_CHROMIUM, with the
 * WebGPU flags of test/chromium.ts) served by a Vite dev server on 127.0.0.1, and waits until the page
 * has defined `readyGlobal`. Page errors and warnings are printed to stderr.
 */
import { chromium, type Browser, type Page } from 'playwright';
import { createServer } from 'vite';
import { chromiumExecutable, chromiumWebGpuArgs } from '../test/chromium.ts';

export interface BenchPage {
  page: Page;
  /** "Chromium <version> (headless, <path>)" */
  browser: string;
  close(): Promise<void>;
}

export async function openBenchPage(root: string, html: string, readyGlobal: string, allow: string[] = []): Promise<BenchPage> {
  const server = await createServer({
    configFile: false,
    root,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, hmr: false, fs: { allow: [root, ...allow] } },
    optimizeDeps: { entries: [html] },
  });
  await server.listen();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: chromiumExecutable(), args: chromiumWebGpuArgs() });
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`page ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    // The benchmarks run for many minutes in one call.
    page.setDefaultTimeout(0);
    await page.goto(`${server.resolvedUrls!.local[0]}${html}`);
    await page.waitForFunction((name) => name in window, readyGlobal, { timeout: 120_000 });
    const opened = browser;
    return {
      page,
      browser: `Chromium ${opened.version()} (headless, ${chromiumExecutable()})`,
      async close() {
        await opened.close();
        await server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server.close();
    throw error;
  }
}
