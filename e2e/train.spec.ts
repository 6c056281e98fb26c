import type { Page } from '@playwright/test';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, RECIPE_KEY, seedRecipe, test, TWEETS_FILE, TWEETS_TASK } from './studio.ts';

/** A finance cocktail small enough for SwiftShader: the tiny model, rank 4 on q and v, short sequences. */
function recipe(change: Record<string, unknown> = {}) {
  return {
    name: 'Train spec',
    model: { source: FIXTURE_MODEL, revision: 'main' },
    tasks: [PHRASES_TASK, TWEETS_TASK],
    mixture: { strategy: 'temperature', temperature: 2, per: 'example' },
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
    optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
    schedule: { kind: 'cosine', warmup_steps: 2 },
    batch_size: 2,
    grad_accum: 1,
    max_length: 128,
    packing: false,
    train_on_prompts: false,
    steps: 12,
    clip: 1,
    nonfinite: 'skip',
    recompute: false,
    eval_every: 6,
    eval_examples: 4,
    eval_max_new_tokens: 4,
    checkpoint_every: 3,
    seed: 7,
    ...change,
  };
}

const runStatus = (page: Page) => page.getByRole('status').filter({ hasText: 'Train spec:' });
const lossChart = (page: Page) => page.getByRole('figure', { name: 'Training loss' });

/** The step the status line shows ("... step 5 of 12"). */
async function shownStep(page: Page): Promise<number> {
  const text = (await runStatus(page).textContent()) ?? '';
  return Number(/step (\d+)/.exec(text)?.[1] ?? Number.NaN);
}

test.describe('Train page', () => {
  test('trains with live per-task charts, pauses, survives a reload, resumes and shows the final evaluation', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(420_000);
    const errors = watchConsole(page);
    await seedRecipe(page, recipe(), 'always');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);

    await page.goto('/#/train');
    const start = page.getByRole('button', { name: 'Start', exact: true });
    await expect(start).toBeEnabled();
    await start.click();
    await expect(page.getByRole('list', { name: 'Run stages' })).toBeVisible();
    await expect(runStatus(page)).toContainText(/training, step [1-9]\d* of 12/, { timeout: 180_000 });
    await expect(page.getByRole('progressbar', { name: 'Training progress' })).toHaveAttribute('max', '12');
    // One line for the overall loss and one per task, named in the legend.
    await expect(lossChart(page).locator('.recharts-line')).toHaveCount(3);
    await expect(lossChart(page).locator('.recharts-legend-item-text')).toHaveText(['overall', 'phrases', 'tweets']);
    await page.screenshot({ path: testInfo.outputPath('train-running.png'), fullPage: true });

    await page.getByRole('button', { name: 'Pause' }).click();
    await expect(runStatus(page)).toContainText(/Paused at step \d+ of 12/, { timeout: 60_000 });
    const pausedAt = await shownStep(page);
    expect(pausedAt).toBeLessThan(12);

    await page.reload();
    await expect(runStatus(page)).toContainText(`Paused at step ${pausedAt} of 12`);
    await expect(lossChart(page).locator('.recharts-line')).toHaveCount(3);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect(runStatus(page)).toContainText('Completed: 12 steps.', { timeout: 240_000 });

    const final = page.getByRole('table', { name: 'Final evaluation' });
    await expect(final.getByRole('row')).toHaveCount(3);
    await expect(final.getByRole('row', { name: /^phrases accuracy \d+\.\d%/ })).toBeVisible();
    await expect(final.getByRole('row', { name: /^tweets accuracy \d+\.\d%/ })).toBeVisible();
    await expect(page.getByRole('list', { name: 'Exported adapters' })).toContainText(/train-spec-.*\/shared/);
    await expect(page.getByRole('link', { name: 'Compare runs on the Evaluate page' })).toBeVisible();
    // The steps before the pause and after the resume make one history.
    await expect(lossChart(page)).toContainText('Latest: overall');
    await expect(page.getByRole('figure', { name: 'Validation metric' }).locator('.recharts-line')).toHaveCount(2);
    await page.screenshot({ path: testInfo.outputPath('train-completed.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('train-completed-dark.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  test('a run cut off by a reload is offered for resuming from its checkpoint, and cancel asks first', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, recipe({ steps: 200, eval_every: 100 }), 'always');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);

    await page.goto('/#/train');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(runStatus(page)).toContainText(/training, step ([4-9]|\d\d+) of 200/, { timeout: 180_000 });

    await page.reload();
    await expect(runStatus(page)).toContainText(/stopped when the page was closed or reloaded\. Resume continues from its last checkpoint, step [1-9]\d*, of 200/);
    await expect(lossChart(page).locator('.recharts-line')).toHaveCount(3);
    await page.screenshot({ path: testInfo.outputPath('train-interrupted.png'), fullPage: true });
    const checkpoint = await shownStep(page);
    expect(checkpoint % 3).toBe(0);

    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => shownStep(page), { timeout: 180_000 }).toBeGreaterThan(checkpoint);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('group', { name: /Cancel this run\?/ })).toBeVisible();
    await page.getByRole('button', { name: 'Keep training' }).click();
    await expect(page.getByRole('button', { name: 'Pause' })).toBeVisible();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await expect(runStatus(page)).toContainText(/Cancelled at step \d+ of 200/, { timeout: 60_000 });
    await expect(page.getByRole('button', { name: 'Start a new run' })).toBeEnabled();
    await expect(page.getByRole('alert')).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('a recipe problem blocks Start, names its path and leads to where it is fixed', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await seedRecipe(page, recipe({ tasks: [] }), 'always');
    await page.goto('/#/train');
    const problems = page.getByRole('region', { name: /The recipe has 1 problem/ });
    await expect(problems).toContainText('tasks:');
    await expect(problems.getByRole('link', { name: 'Fix it on the Tasks page' })).toHaveAttribute('href', '#/tasks');
    await expect(page.getByRole('button', { name: 'Start', exact: true })).toBeDisabled();

    const rank = page.getByLabel('Rank (r)');
    await expect(rank).toHaveValue('4');
    await expect(rank).toHaveAccessibleDescription(/higher rank learns more/);
    await rank.fill('0');
    await expect(page.getByRole('region', { name: /The recipe has 2 problems/ })).toContainText('lora.r:');
    await expect(rank).toHaveAttribute('aria-invalid', 'true');
    await page.getByRole('button', { name: 'Go to the field' }).click();
    await expect(rank).toBeFocused();
    await rank.fill('8');
    await expect(page.getByRole('region', { name: /The recipe has 1 problem/ })).toBeVisible();
    const saved = await page.evaluate((key) => JSON.parse(window.localStorage.getItem(key)!) as { lora: { r: number } }, RECIPE_KEY);
    expect(saved.lora.r).toBe(8);

    await page.getByRole('checkbox', { name: 'q_proj' }).uncheck();
    await page.getByRole('checkbox', { name: 'v_proj' }).uncheck();
    await expect(page.getByRole('region', { name: /The recipe has 2 problems/ })).toContainText('lora.targets:');
    await page.screenshot({ path: testInfo.outputPath('train-problems.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  test('a task file that was never imported stops the run with the reason, and the studio keeps working', async ({ page, hub: _hub }, testInfo) => {
    const errors = watchConsole(page);
    await seedRecipe(page, recipe(), 'always');
    await page.goto('/#/train');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('Training stopped', { timeout: 120_000 });
    await expect(alert).toContainText(/Sentences_50Agree\.txt is not among the imported task files; import it on the Tasks page/);
    await expect(runStatus(page)).toContainText('Stopped by an error');
    await expect(page.getByRole('list', { name: 'Run stages' })).toContainText('Data: failed');
    await page.screenshot({ path: testInfo.outputPath('train-error.png'), fullPage: true });
    await expect(page.getByRole('button', { name: 'Start a new run' })).toBeEnabled();
    await alert.getByRole('button', { name: 'Open the Tasks page' }).click();
    await expect(page).toHaveURL(/#\/tasks$/);
    await expect(page.getByLabel('Choose a task file…')).toBeAttached();
    expect(errors).toEqual([]);
  });
});
