import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, PHRASES_TASK, test, trainRecipe, TWEETS_FILE, TWEETS_TASK } from './studio.ts';

/** Two fixture tasks with an adapter each (lora.layout per_task), a few steps: SwiftShader trains it in a minute or two. */
const recipe = {
  name: 'Router spec',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  // Small validation splits: the router routes each one whole for its confusion matrix.
  tasks: [
    { ...PHRASES_TASK, validation_fraction: 0.01 },
    { ...TWEETS_TASK, validation_fraction: 0.005 },
  ],
  mixture: { strategy: 'uniform', per: 'batch' },
  lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'per_task' },
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  grad_accum: 1,
  max_length: 96,
  packing: false,
  train_on_prompts: false,
  steps: 2,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 100,
  eval_examples: 2,
  eval_max_new_tokens: 2,
  checkpoint_every: 100,
  seed: 7,
};

test.describe('Router page', () => {
  test('trains a router over a per-task run, shows its confusion matrix, keeps it in the Library across a reload, exports the bundle and routes a Playground prompt', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(480_000);
    const errors = watchConsole(page);
    await trainRecipe(page, recipe, [FPB_FILE, TWEETS_FILE]);

    await page.goto('/#/router');
    await expect(page.getByRole('heading', { name: 'Router', exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Train router' })).toBeDisabled();
    await page.getByLabel('Run', { exact: true }).selectOption({ label: 'Router spec (phrases, tweets)' });
    // The run's own per-task adapters answer their tasks.
    await expect(page.getByLabel('Expert for phrases')).toHaveValue(/\/phrases$/);
    await expect(page.getByLabel('Expert for tweets')).toHaveValue(/\/tweets$/);
    // The base model or the shared adapter may answer a task instead, and so become the expert its prompts teach.
    const tweetsExpert = page.getByLabel('Expert for tweets');
    const ownTweets = await tweetsExpert.inputValue();
    await tweetsExpert.selectOption({ label: 'The base model (no adapter)' });
    await expect(page.getByTestId('router-experts')).toHaveText('Experts: phrases ← phrases; base ← tweets');
    await tweetsExpert.selectOption({ label: 'The shared cocktail adapter' });
    await expect(page.getByRole('status', { name: 'Before training' })).toContainText('choose the shared adapter that answers the tasks given to it');
    await expect(page.getByRole('button', { name: 'Train router' })).toBeDisabled();
    await tweetsExpert.selectOption(ownTweets);
    await expect(page.getByTestId('router-experts')).toHaveText('Experts: phrases ← phrases; tweets ← tweets');
    await page.getByLabel('Router name').fill('Finance router');
    await page.getByLabel('Most head steps').fill('60');
    // Which layer routes best: a row per hidden state of the 4-layer model (0..4), the best marked; use it.
    await page.getByRole('button', { name: 'Compare layers' }).click();
    const layerRows = page.getByTestId('layer-row');
    await expect(layerRows).toHaveCount(5, { timeout: 120_000 });
    await expect(page.getByRole('button', { name: 'Compare layers' })).toBeVisible({ timeout: 60_000 });
    const best = page.locator('[data-testid="layer-row"].best');
    await expect(best).toHaveCount(1);
    const bestLayer = await best.getByRole('rowheader').innerText();
    await best.getByRole('button', { name: `Use layer ${bestLayer} (mean)` }).click();
    await expect(page.getByLabel('Layer', { exact: true })).toHaveValue(bestLayer);
    await expect(best).toContainText('in use');
    await page.getByRole('button', { name: 'Train router' }).click();
    await expect(page.getByRole('figure', { name: 'Router loss' }).locator('.recharts-line')).toHaveCount(2, { timeout: 120_000 });
    await expect(page.getByTestId('router-result')).toContainText(/Validation prompts routed to their own task’s expert: \d+\.\d% of \d+/, { timeout: 120_000 });
    const heatmap = page.getByRole('img', { name: 'Routing confusion matrix' });
    await expect(heatmap.locator('svg.recharts-surface')).toBeVisible();
    await expect(heatmap).toContainText('phrases');
    await expect(heatmap).toContainText('tweets');
    await expect(page.getByRole('figure', { name: 'Router accuracy' }).locator('.recharts-line')).toHaveCount(2);
    await page.screenshot({ path: testInfo.outputPath('router-trained.png'), fullPage: true });

    await page.goto('/#/library');
    await page.reload();
    const routers = page.getByRole('region', { name: 'Routers' });
    const row = routers.getByRole('row', { name: /Finance router/ });
    await expect(row).toContainText('phrases, tweets');
    const download = page.waitForEvent('download');
    await row.getByRole('button', { name: 'Download bundle' }).click();
    const bundle = await download;
    expect(bundle.suggestedFilename()).toBe('Finance-router-router.zip');
    const files = unzipSync(new Uint8Array(await readFile(await bundle.path())));
    expect(Object.keys(files).sort()).toEqual([
      'phrases/adapter_config.json',
      'phrases/adapter_model.safetensors',
      'router.json',
      'router.safetensors',
      'tweets/adapter_config.json',
      'tweets/adapter_model.safetensors',
    ]);
    const spec = JSON.parse(new TextDecoder().decode(files['router.json'])) as Record<string, unknown>;
    expect(spec).toMatchObject({
      format: 'cocktail-router',
      version: 1,
      experts: ['phrases', 'tweets'],
      base_model: { name_or_path: FIXTURE_MODEL, revision: 'main' },
      features: { pooling: 'mean', input: 'typed', add_bos: true },
      template: '{prompt}',
      head: { hidden: null, activation: null, out_features: 2, standardize: true },
      temperature: 1,
      top_k: 1,
      threshold: 0,
      fallback: null,
    });
    // The layer "Use this layer" set from the comparison.
    expect((spec.features as { layer: number }).layer).toBe(Number(bestLayer));
    expect((spec.training as { balance: string; trainCounts: number[] }).trainCounts).toHaveLength(2);
    expect((spec.training as { trainCounts: number[] }).trainCounts[0]).toBe((spec.training as { trainCounts: number[] }).trainCounts[1]);
    expect(JSON.parse(new TextDecoder().decode(files['phrases/adapter_config.json']))).toMatchObject({ peft_type: 'LORA', r: 2 });

    await page.goto('/#/playground');
    await page.getByLabel('Router', { exact: true }).selectOption({ label: 'Finance router (phrases, tweets)' });
    await page.getByRole('textbox', { name: 'Prompt' }).fill('Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.');
    await page.getByLabel('Max new tokens').fill('4');
    await page.getByLabel('Temperature').fill('0');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByTestId('pane-routed-status')).toContainText('Done:', { timeout: 120_000 });
    const bars = page.getByRole('list', { name: 'Router probabilities' });
    await expect(bars.getByRole('listitem')).toHaveCount(2);
    await expect(bars).toContainText('phrases');
    await expect(bars).toContainText('tweets');
    await expect(page.getByTestId('routed-expert')).toContainText(/Answered by “(phrases|tweets)”/);
    await page.screenshot({ path: testInfo.outputPath('router-playground.png'), fullPage: true });

    await page.goto('/#/evaluate');
    await expect(page.getByLabel('Router to evaluate')).toHaveValue(/^Finance-router-/);
    await page.getByRole('button', { name: 'Evaluate router' }).click();
    await expect(page.getByTestId('routing-accuracy')).toContainText(/Routing accuracy on the validation prompts: \d+\.\d%/, { timeout: 180_000 });
    const table = page.getByRole('table', { name: 'Routed against oracle, shared and base' });
    await expect(table.getByRole('row', { name: /^phrases accuracy/ })).toBeVisible();
    await expect(table.getByRole('row', { name: /^tweets accuracy/ })).toBeVisible();
    await expect(page.getByRole('img', { name: 'Router evaluation confusion matrix' }).locator('svg.recharts-surface')).toBeVisible();
    expect(errors).toEqual([]);
  });
});
