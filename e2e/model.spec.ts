import type { Page } from '@playwright/test';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConsole } from './console.ts';
import { startHubServer } from '../test/hub-server.ts';
import { FIXTURE_MODEL, FIXTURE_MODEL_DIR, pointStudioAtHub } from './hub.ts';
import { expect, RECIPE_KEY, test } from './studio.ts';

async function loadFromHub(page: Page, id: string, revision = 'main') {
  await page.getByLabel('Hub model id').fill(id);
  await page.getByLabel('Revision').fill(revision);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
}

const savedRecipe = (page: Page) => page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '{}') as { model: { source: string; revision: string }; batch_size: number; max_length: number; recompute: boolean; lora: { r: number } }, RECIPE_KEY);

test.describe('Model page', () => {
  test('downloads a Hub model with progress, shows its card, plans memory and verifies the engine', async ({ page, hub }, testInfo) => {
    const errors = watchConsole(page);
    // Slow enough to watch the progress: the weights and the ONNX export are about 2 MB.
    hub.throttle(400_000);
    await page.goto('/#/model');
    await expect(page.getByLabel('Hub endpoint')).toHaveValue(hub.endpoint);

    await loadFromHub(page, FIXTURE_MODEL);
    const progress = page.getByRole('progressbar', { name: /^Downloading / });
    await expect(progress).toBeVisible();
    await expect(page.getByTestId('model-progress')).toContainText(/KiB\/s, .* downloaded in this load/);
    await expect(page.getByTestId('model-progress')).toContainText(/ left/);

    const card = page.getByTestId('model-card');
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card.getByRole('heading', { level: 2 })).toHaveText(`${FIXTURE_MODEL}@main`);
    await expect(card).toContainText('LlamaForCausalLM');
    await expect(card.locator('dt:text-is("Layers") + dd')).toHaveText('4');
    await expect(card.locator('dt:text-is("Vocabulary") + dd')).toHaveText('512 tokens');
    await expect(card.locator('dt:text-is("Parameters") + dd')).toHaveText(/^2\d\d,\d{3} \(2\d\dK\)$/);
    await expect(card.getByRole('table', { name: 'Model files' })).toContainText('model.safetensors');
    await expect(card.getByRole('table', { name: 'Model files' })).toContainText('onnx/model.onnx');
    expect((await savedRecipe(page)).model).toEqual({ source: FIXTURE_MODEL, revision: 'main' });

    // The planner: the recipe's settings fit this tiny model; an absurd batch does not, with advice.
    const verdict = page.getByTestId('plan-verdict');
    await expect(verdict).toContainText(/^Fits: about .* of the 2\.00 GiB budget/);
    await page.getByLabel('Batch size').fill('1024');
    await page.getByLabel('Sequence length').fill('8192');
    await expect(verdict).toContainText('Does not fit');
    await expect(verdict.getByRole('listitem').first()).toContainText(/lower the batch size|turn on recomputation/);
    await page.getByLabel('Batch size').fill('8');
    await page.getByLabel('Sequence length').fill('128');
    await page.getByLabel('LoRA rank').fill('4');
    await page.getByRole('checkbox', { name: 'Recompute activations' }).check();
    await expect(verdict).toContainText('Fits');
    await page.getByRole('button', { name: 'Use these settings' }).click();
    await expect(page.getByText('The recipe uses these settings.')).toBeVisible();
    expect(await savedRecipe(page)).toMatchObject({ batch_size: 8, max_length: 128, recompute: true, lora: { r: 4 } });

    // Verify engine: ONNX Runtime against our kernels on the fixture's ONNX export.
    await page.getByRole('button', { name: 'Verify engine' }).click();
    const result = page.getByTestId('verify-result');
    await expect(result.getByRole('status')).toContainText(/^Pass: the engines agree to \d\.\d\de-\d+ relative \(tolerance 1e-4\)/, { timeout: 120_000 });
    const maxAbs = Number(await result.locator('dt:text-is("Max abs difference") + dd').textContent());
    expect(maxAbs).toBeLessThanOrEqual(1e-4);
    await expect(result.locator('dt:text-is("Top-token disagreements") + dd')).toHaveText(/^0 of \d+ positions$/);

    await page.screenshot({ path: testInfo.outputPath('model.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('model-dark.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  test('Cancel stops a download and Load resumes it; after a reload the model loads from storage with the Hub gone', async ({ page, hub }) => {
    const errors = watchConsole(page);
    hub.throttle(100_000);
    await page.goto('/#/model');
    await loadFromHub(page, FIXTURE_MODEL);
    await expect(page.getByRole('progressbar', { name: /^Downloading / })).toBeVisible();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'was cancelled' })).toContainText('Load resumes it');

    hub.throttle(null);
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 60_000 });

    // Offline: the recipe's model is found in storage at start-up, and Load works from the cache.
    await hub.close();
    await page.reload();
    await expect(page.getByTestId('model-card')).toContainText(`${FIXTURE_MODEL}@main`, { timeout: 60_000 });
    await loadFromHub(page, FIXTURE_MODEL);
    await expect(page.getByTestId('model-card').getByRole('status')).toContainText('Loaded');
    await expect(page.getByRole('alert')).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('a bad id, a missing repository and a cut network each say what to do, and the page keeps working', async ({ page, hub }) => {
    const errors = watchConsole(page);
    await page.goto('/#/model');

    await loadFromHub(page, 'not a hub id!');
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('is not a Hub repository id');
    await expect(alert).toContainText('A Hub id looks like owner/name');

    await loadFromHub(page, 'fixtures/no-such-model');
    await expect(alert).toContainText('404');
    await expect(alert).toContainText('no such model or revision');

    // A Hub that cannot be reached: the download is kept and resumes.
    const endpoint = page.getByLabel('Hub endpoint');
    await endpoint.fill('http://127.0.0.1:9');
    await loadFromHub(page, FIXTURE_MODEL);
    await expect(alert).toContainText('what was downloaded is kept');

    // "Try again" after fixing the endpoint loads the model: nothing was left broken.
    await endpoint.fill(hub.endpoint);
    await alert.getByRole('button', { name: 'Try again' }).click();
    await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 60_000 });
    await expect(alert).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('a gated model asks for an access token, and downloads with one', async ({ page }) => {
    const errors = watchConsole(page);
    const gated = await startHubServer({ 'meta-llama/tiny-gated': FIXTURE_MODEL_DIR }, { gated: { 'meta-llama/tiny-gated': 'hf_reader' } });
    try {
      await pointStudioAtHub(page, gated.endpoint);
      await page.goto('/#/model');
      await loadFromHub(page, 'meta-llama/tiny-gated');
      const alert = page.getByRole('alert');
      await expect(alert).toContainText('401: the repository is gated or private and no access token was given');
      await expect(alert).toContainText('paste a read token');
      await page.getByLabel('Access token').fill('hf_reader');
      await alert.getByRole('button', { name: 'Try again' }).click();
      await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 60_000 });
      // Not remembered unless asked: after a reload the field is empty.
      await page.reload();
      await expect(page.getByLabel('Access token')).toHaveValue('');
      await page.getByLabel('Access token').fill('hf_reader');
      await expect(page.getByTestId('hub-token-storage')).toHaveText('Kept in this tab only; it is gone when the page closes or reloads.');
      await page.getByLabel('Remember it in this browser').check();
      // Stored where the page says it is, and nowhere else the page can see.
      await expect(page.getByTestId('hub-token-storage')).toHaveText('Remembered in this browser\'s localStorage for this site, under "cocktail.hubToken", until you forget it.');
      const stored = () => page.evaluate(() => ({ token: localStorage.getItem('cocktail.hubToken'), elsewhere: [...Object.entries(localStorage), ...Object.entries(sessionStorage)].filter(([key, value]) => key !== 'cocktail.hubToken' && value.includes('hf_reader')).length }));
      expect(await stored()).toEqual({ token: 'hf_reader', elsewhere: 0 });
      await page.reload();
      await expect(page.getByLabel('Access token')).toHaveValue('hf_reader');
      // Removed in one click.
      await page.getByRole('button', { name: 'Forget the token' }).click();
      expect(await stored()).toEqual({ token: null, elsewhere: 0 });
      await page.reload();
      await expect(page.getByLabel('Access token')).toHaveValue('');
      expect(errors).toEqual([]);
    } finally {
      await gated.close();
    }
  });

  test('opens a model from a local folder, or from dropped files, and refuses a folder without config.json', async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto('/#/model');

    await page.getByLabel('Model folder').setInputFiles(FIXTURE_MODEL_DIR);
    const card = page.getByTestId('model-card');
    await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/aidreams260K', { timeout: 60_000 });
    await expect(card.locator('dt:text-is("Layers") + dd')).toHaveText('4');
    await expect(card.getByRole('table', { name: 'Model files' })).toContainText('onnx/model.onnx');
    expect((await savedRecipe(page)).model).toEqual({ source: 'local/aidreams260K', revision: 'local' });

    // A folder without config.json: the error names it and says which folder to pick; the loaded model stays.
    const partial = await mkdtemp(join(tmpdir(), 'cocktail-partial-'));
    try {
      await copyFile(join(FIXTURE_MODEL_DIR, 'tokenizer.json'), join(partial, 'tokenizer.json'));
      await page.getByLabel('Model name').fill('broken');
      await page.getByLabel('Model folder').setInputFiles(partial);
      const alert = page.getByRole('alert');
      await expect(alert).toContainText('config.json');
      await expect(alert).toContainText('Pick the model’s own folder');
      await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/aidreams260K');
    } finally {
      await rm(partial, { recursive: true, force: true });
    }

    // Files dropped on the drop zone (loose files: their names are their paths).
    const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    const contents = await Promise.all(names.map(async (name) => [...(await readFile(join(FIXTURE_MODEL_DIR, name)))]));
    await page.getByLabel('Model name').fill('dropped');
    const transfer = await page.evaluateHandle(
      ([names, contents]) => {
        const transfer = new DataTransfer();
        names.forEach((name, i) => transfer.items.add(new File([new Uint8Array(contents[i]!)], name)));
        return transfer;
      },
      [names, contents] as const,
    );
    await page.getByTestId('model-drop').dispatchEvent('drop', { dataTransfer: transfer });
    await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/dropped', { timeout: 60_000 });
    await expect(card.locator('dt:text-is("ONNX export") + dd')).toHaveText('no');
    await expect(page.getByRole('button', { name: 'Verify engine' })).toBeDisabled();
    expect(errors).toEqual([]);
  });
});
