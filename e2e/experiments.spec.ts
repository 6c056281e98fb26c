import { readFile } from 'node:fs/promises';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test, TWEETS_FILE, TWEETS_TASK } from './studio.ts';

/** Two fixture tasks, a few steps each: an experiment of three one-seed arms that SwiftShader runs in minutes. */
const recipe = {
  name: 'Experiment spec',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  tasks: [PHRASES_TASK, TWEETS_TASK],
  mixture: { strategy: 'uniform', per: 'example' },
  lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  grad_accum: 1,
  max_length: 128,
  packing: false,
  train_on_prompts: false,
  steps: 3,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 100,
  eval_examples: 4,
  eval_max_new_tokens: 4,
  checkpoint_every: 1,
  seed: 7,
};

test.describe('Experiments page', () => {
  test('designs an experiment on two tasks, runs it, survives a reload mid-way, resumes, and shows the table and the heatmap', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(600_000);
    const errors = watchConsole(page);
    await seedRecipe(page, recipe, 'always');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);

    await page.goto('/#/experiments');
    await expect(page.getByRole('heading', { name: 'Experiments' })).toBeVisible();
    // Nothing can start without a target: the reason is shown.
    await expect(page.getByRole('status').filter({ hasText: 'choose at least one target' })).toBeVisible();
    await page.getByRole('group', { name: 'Targets (whose metrics decide)' }).getByRole('checkbox', { name: 'phrases' }).check();
    const designs = page.getByRole('group', { name: 'Design' });
    await designs.getByRole('checkbox', { name: /all \(every task together\)/ }).uncheck();
    await designs.getByRole('checkbox', { name: /pairs \(each target/ }).check();
    await page.getByLabel('Seeds').fill('1');
    await expect(page.getByRole('status').filter({ hasText: '3 arms × 1 seeds in 2 training runs (the 2 single-task arms of a seed train in one run, an adapter each), about 9 optimizer steps' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('experiment-design.png'), fullPage: true });

    await page.getByRole('button', { name: 'Start experiment' }).click();
    await expect(page.getByText('Run 1 of 2: single-task arms phrases, tweets (one run, an adapter each), seed 7')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByText(/Run 2 of 2: arm phrases\+tweets, seed 7/)).toBeVisible({ timeout: 300_000 });
    // The single arms' results are in the table already.
    await expect(page.getByRole('table', { name: /^Arms/ }).getByRole('row', { name: /^phrases/ })).toBeVisible({ timeout: 60_000 });

    await page.reload();
    await expect(page.getByText(/Experiment Experiment-spec-\w+ \(paused\)/)).toBeVisible({ timeout: 30_000 });
    await expect(page.getByRole('table', { name: /^Arms/ }).getByRole('row', { name: /^phrases/ })).toBeVisible();
    await page.getByRole('button', { name: 'Resume experiment' }).click();
    await expect(page.getByText(/Experiment Experiment-spec-\w+ \(completed\)/)).toBeVisible({ timeout: 300_000 });

    const arms = page.getByRole('table', { name: /^Arms/ });
    await expect(arms.getByRole('row')).toHaveCount(4);
    await expect(arms.getByRole('row', { name: /^phrases \+ tweets/ })).toContainText(/effect [+-]?\d/);
    // The heatmap is a recharts chart: its column and row are the SVG's axis labels, its cell the effect.
    const heatmap = page.getByRole('img', { name: 'Synergy heatmap' });
    await expect(heatmap.locator('svg.recharts-surface')).toBeVisible();
    await expect(heatmap).toContainText('tweets');
    await expect(heatmap).toContainText('phrases');
    await expect(heatmap.locator('.recharts-label-list')).toContainText(/[+-]?\d\.\d{3}/);
    await expect(page.getByRole('heading', { name: /^Recommended cocktail: / })).toBeVisible();
    await page.getByText('Synergy as a table').click();
    await expect(page.locator('.synergy-table').getByRole('row')).toHaveCount(2);
    await page.screenshot({ path: testInfo.outputPath('experiment-results.png'), fullPage: true });

    const csv = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    expect((await csv).suggestedFilename()).toMatch(/results\.csv$/);
    const json = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export JSON' }).click();
    const exported = JSON.parse(await readFile((await (await json).path())!, 'utf8')) as { arms: { id: string }[]; synergy: unknown[] };
    expect(exported.arms.map((arm) => arm.id)).toEqual(['phrases', 'tweets', 'phrases+tweets']);
    expect(exported.synergy).toHaveLength(1);

    // An arm opens on the Evaluate page, in the comparison against the target's single arm of the same seed.
    await arms.getByRole('row', { name: /^phrases \+ tweets/ }).getByRole('link', { name: /seed 7/ }).click();
    await expect(page.getByLabel('Results of')).toHaveValue(/run:experiment-.*-phrases\+tweets-seed-7/);
    const compare = page.getByRole('region', { name: 'Compare runs' }).getByRole('table');
    await expect(compare.getByRole('columnheader')).toHaveText(['Task', /^Experiment .*: phrases \(seed 7\) \(baseline\)$/, /^Experiment .*: phrases \+ tweets \(seed 7\)$/]);
    await page.screenshot({ path: testInfo.outputPath('experiment-arm-compared.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
