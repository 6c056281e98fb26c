import type { Page } from '@playwright/test';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, RECIPE_KEY, seedRecipe, test } from './studio.ts';

/** What a first-time user found after a reload (issue 11): settings, errors and records that did not survive it. */

const runStatus = (page: Page) => page.getByRole('status').filter({ hasText: 'Reload spec:' });

test.describe('after a reload', () => {
  test('"Map columns" reads an imported file with the options it was imported with: FPB keeps @ and no header', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await importTaskFiles(page, [FPB_FILE]);
    await expect(page.getByTestId('import-summary')).toContainText('2 columns (column_1, column_2)');

    await page.reload();
    // The form's settings are back to Detect, which would read FPB as one column of plain text.
    await expect(page.getByLabel('Delimiter', { exact: true })).toHaveValue('');
    const files = page.getByRole('table', { name: 'Imported files' });
    await files.getByRole('row', { name: new RegExp(FPB_FILE.name) }).getByRole('button', { name: 'Map columns' }).click();
    await expect(page.getByTestId('import-summary')).toContainText('2 columns (column_1, column_2)', { timeout: 60_000 });
    await expect(page.getByLabel('Delimiter', { exact: true })).toHaveValue('@');
    await expect(page.getByLabel('First row is a header')).toHaveValue('no');
    const mapping = page.getByTestId('file-mapping');
    await expect(mapping.getByLabel('Recipe format')).toHaveValue('classification');
    await page.screenshot({ path: testInfo.outputPath('reload-map-columns-fpb.png'), fullPage: true });

    // Added as a task, then edited: a delimiter changed while editing takes effect on the read and on the task.
    await mapping.getByRole('button', { name: 'Add to recipe' }).click();
    await page.getByRole('list', { name: 'Tasks in the recipe' }).getByRole('listitem').filter({ hasText: 'sentences_50agree' }).getByRole('button', { name: 'Edit' }).click();
    await expect(page.getByRole('heading', { name: /^Edit task sentences_50agree/ })).toBeVisible({ timeout: 60_000 });
    const readAgain = page.getByRole('button', { name: `Read ${FPB_FILE.name} again with these settings` });
    await page.getByLabel('Delimiter', { exact: true }).selectOption({ label: 'Semicolon (;)' });
    await readAgain.click();
    await expect(page.getByTestId('import-summary')).toContainText('1 column (column_1)', { timeout: 60_000 });
    await page.getByLabel('Delimiter', { exact: true }).selectOption({ label: FPB_FILE.delimiter });
    await readAgain.click();
    await expect(page.getByTestId('import-summary')).toContainText('2 columns (column_1, column_2)', { timeout: 60_000 });
    await mapping.getByRole('button', { name: 'Update task' }).click();
    const saved = await page.evaluate((key) => JSON.parse(window.localStorage.getItem(key)!) as { tasks: { source: unknown }[] }, RECIPE_KEY);
    expect(saved.tasks.at(-1)!.source).toEqual({ file: FPB_FILE.name, delimiter: '@', header: false });
    expect(errors).toEqual([]);
  });

  test('Cancel and a reload show the run as cancelled, with no error; a page closed right after Cancel does not leave it "running"', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(
      page,
      {
        name: 'Reload spec',
        model: { source: FIXTURE_MODEL, revision: 'main' },
        tasks: [PHRASES_TASK],
        mixture: { strategy: 'proportional', per: 'example' },
        lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false, layout: 'shared' },
        optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
        schedule: { kind: 'constant', warmup_steps: 0 },
        batch_size: 1,
        grad_accum: 1,
        max_length: 128,
        packing: false,
        train_on_prompts: false,
        steps: 200,
        clip: 1,
        nonfinite: 'skip',
        recompute: false,
        eval_every: 100,
        eval_examples: 2,
        eval_max_new_tokens: 4,
        checkpoint_every: 50,
        seed: 3,
      },
      'always',
    );
    await importTaskFiles(page, [FPB_FILE]);

    await page.goto('/#/train');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(runStatus(page)).toContainText(/training, step [1-9]\d* of 200/, { timeout: 180_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await expect(runStatus(page)).toContainText(/Cancelled at step \d+ of 200/, { timeout: 60_000 });

    await page.reload();
    await expect(runStatus(page)).toContainText(/Cancelled at step \d+ of 200/);
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(page.getByText('Pausing failed')).toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath('reload-after-cancel.png'), fullPage: true });

    // A second run, cancelled while it loads and closed (reloaded) at once, before the worker can write its record.
    await page.getByRole('button', { name: 'Start a new run' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await page.reload();
    await expect(runStatus(page)).toContainText(/Cancelled at step 0 of 200/);
    await expect(runStatus(page)).not.toContainText('stopped when the page was closed');
    await expect(page.getByRole('button', { name: 'Resume' })).toHaveCount(0);
    await page.goto('/#/library');
    const runs = page.getByRole('region', { name: 'Runs' });
    await expect(runs.getByText('running', { exact: true })).toHaveCount(0);
    await expect(runs.getByText('cancelled', { exact: true })).toHaveCount(2);
    await page.screenshot({ path: testInfo.outputPath('library-after-cancel-and-close.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
