import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, PHRASES_TASK, seedRecipe, test } from './studio.ts';

test.describe('Train page: whether the recipe fits', () => {
  test('says the run fits this GPU before it starts, and what would fit when settings grow past the budget', async ({ page, hub: _hub }) => {
    const errors = watchConsole(page);
    await seedRecipe(
      page,
      { name: 'Fit spec', model: { source: FIXTURE_MODEL, revision: 'main' }, tasks: [PHRASES_TASK], lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] }, batch_size: 2, max_length: 64, steps: 20 },
      'if-absent',
    );
    await page.goto('/#/train');
    const fit = page.getByTestId('recipe-fit');
    await expect(fit).toContainText(`Load ${FIXTURE_MODEL} on the Model page`);

    await page.goto('/#/model');
    await page.getByLabel('Hub model id').fill(FIXTURE_MODEL);
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 60_000 });

    await page.goto('/#/train');
    await expect(fit).toContainText(/^Fits this GPU: the run needs about [\d.]+ MiB of the 2\.00 GiB budget\./, { timeout: 30_000 });
    await page.getByLabel('Batch size').fill('512');
    await page.getByLabel('Max length (tokens)').fill('4096');
    await expect(fit).toContainText('Does not fit this GPU with these settings', { timeout: 30_000 });
    // This adapter's real per-buffer limit (SwiftShader: 1 GiB), then the budget, with what would fit.
    await expect(fit.getByRole('listitem').first()).toContainText(/^MLP activation \[tokens, intermediate\] needs [\d.]+ GiB in one buffer, over this GPU's limit of 1\.00 GiB/);
    await expect(fit.getByRole('listitem').nth(1)).toContainText(/over the budget of 2\.00 GiB\. To fit: turn on recomputation.* Would fit: batch_size \d+, max_length \d+, recompute on/);
    expect(errors).toEqual([]);
  });
});
