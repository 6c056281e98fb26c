import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test, TWEETS_FILE, TWEETS_TASK } from './studio.ts';

/** Adaptive mixing with a loss-driven rule (so evaluations change the weights) and the best checkpoint kept. */
const RECIPE = {
  name: 'Adaptive',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  tasks: [PHRASES_TASK, TWEETS_TASK],
  mixture: { strategy: 'adaptive', per: 'example', adaptive: { base: 'proportional', rise_threshold: 0.02, factor: 0.5, rule: 'remaining', rule_temperature: 0.05, min_share: 0.05, max_share: 0.95 } },
  lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 2e-2, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  max_length: 128,
  steps: 4,
  eval_every: 2,
  eval_examples: 4,
  eval_max_new_tokens: 4,
  checkpoint_every: 2,
  best_checkpoint: { by: 'loss' },
  seed: 11,
};

test.describe('Adaptive mixing on the Train page', () => {
  test('charts each task’s probability over the steps with the reasons for changes, and says which step the exported adapter is from', async ({ page, hub: _hub }) => {
    test.setTimeout(400_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);
    await page.goto('/#/train');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const adaptive = page.getByTestId('adaptive-mixing');
    await expect(adaptive.getByText(/were exported/)).toBeVisible({ timeout: 300_000 });
    await expect(adaptive.getByRole('figure', { name: /Task probabilities/ })).toBeVisible();
    await expect(adaptive).toContainText(/Best evaluation so far: step [24]/);
    // Step 2's evaluation sets each task's start; step 4's moves the weights by the loss left, and says so.
    await expect(adaptive.getByRole('table', { name: 'Changes to the mixture' })).toContainText('loss left of its start');
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
