import type { Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test } from './studio.ts';

/** Issue 11, item 6: what users of other fine-tuning studios expect around runs. Two tiny runs of the fixture model. */
const RECIPE = {
  name: 'Runs spec',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  tasks: [{ ...PHRASES_TASK, max_examples: 12 }],
  mixture: { strategy: 'proportional', per: 'example' },
  lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 1,
  grad_accum: 1,
  max_length: 128,
  packing: false,
  train_on_prompts: false,
  steps: 6,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 3,
  eval_examples: 2,
  eval_max_new_tokens: 4,
  checkpoint_every: 3,
  seed: 3,
};

const runStatus = (page: Page) => page.getByRole('status').filter({ hasText: 'Runs spec:' });

test('runs: an estimate before Start, smoothed loss, curves of two runs overlaid, metrics as CSV, a run renamed', async ({ page, hub: _hub }, testInfo) => {
  test.setTimeout(420_000);
  const errors = watchConsole(page);
  await seedRecipe(page, RECIPE, 'always');
  await importTaskFiles(page, [FPB_FILE]);

  await page.goto('/#/train');
  // 6 steps × 1 example; each example at most 128 tokens. No run of this model yet: no time.
  await expect(page.getByTestId('run-estimate')).toContainText('Estimate: 6 steps, 6 examples, at most 768 tokens');
  await expect(page.getByTestId('run-estimate')).toContainText('the time is known after a first run of this model here');
  for (const run of [1, 2]) {
    await page.getByRole('button', { name: run === 1 ? 'Start' : 'Start a new run', exact: true }).click();
    await expect(runStatus(page)).toContainText('Completed: 6 steps.', { timeout: 180_000 });
  }
  // The last run measured a rate: the estimate now gives a time for the next.
  await expect(page.getByTestId('run-estimate')).toContainText(/of training at \d+ tokens\/s, the rate the last run of this model measured here/);
  await expect(page.getByLabel('Smoothing')).toHaveValue('0.6');
  await page.getByLabel('Smoothing').fill('0');
  await expect(page.getByRole('figure', { name: 'Training loss' }).locator('.recharts-line')).toHaveCount(2);
  await page.screenshot({ path: testInfo.outputPath('train-estimate-smoothing.png'), fullPage: true });

  // Renamed in the Library, and its metrics downloaded.
  await page.goto('/#/library');
  const runs = page.getByRole('region', { name: 'Runs' });
  const newest = runs.getByRole('row').nth(1);
  await newest.getByRole('button', { name: 'Rename' }).click();
  await newest.getByLabel(/New name of run/).fill('Second run');
  await newest.getByRole('button', { name: 'Save name' }).click();
  await expect(runs.getByRole('row', { name: /Second run/ })).toBeVisible();
  const download = page.waitForEvent('download');
  await runs.getByRole('row', { name: /Second run/ }).getByRole('button', { name: 'Download metrics.csv' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('Second-run-metrics.csv');
  const lines = (await readFile((await file.path())!, 'utf8')).trim().split('\r\n');
  expect(lines[0]).toBe('step,loss,loss/phrases,lr,grad_norm,tokens,seconds,tokens_per_second,skipped,val_loss/phrases,val_accuracy/phrases');
  expect(lines.slice(1).map((line) => Number(line.split(',')[0]))).toEqual([1, 2, 3, 4, 5, 6]);
  // Evaluated at steps 3 and 6 only.
  expect(lines.slice(1).map((line) => line.split(',').at(-1) !== '')).toEqual([false, false, true, false, false, true]);

  // Both runs' curves on one chart of the Evaluate page, by their names.
  await page.goto('/#/evaluate');
  const curves = page.getByRole('region', { name: 'Training curves of several runs' });
  await expect(curves.getByRole('figure').locator('.recharts-line')).toHaveCount(2);
  await expect.poll(async () => (await curves.getByRole('figure').locator('.recharts-legend-item-text').allTextContents()).sort()).toEqual(['Runs spec', 'Second run']);
  await curves.getByLabel('Curve').selectOption({ label: 'Validation loss: phrases' });
  await expect(curves.getByRole('figure').locator('.recharts-line')).toHaveCount(2);
  await curves.getByRole('checkbox', { name: /Runs spec/ }).uncheck();
  await expect(curves.getByRole('figure').locator('.recharts-line')).toHaveCount(1);
  await page.screenshot({ path: testInfo.outputPath('evaluate-run-curves.png'), fullPage: true });
  expect(errors).toEqual([]);
});
