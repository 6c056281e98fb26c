import type { Page } from '@playwright/test';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test } from './studio.ts';

/**
 * One tab owns a run (issue 12 item 2): two tabs of the studio share its storage, and the tab whose
 * worker trains a run holds its Web Lock. Another tab shows that run read-only and live, answers an
 * attempt to train it with who owns it, and takes it over once the owner's tab is closed.
 */
const runStatus = (page: Page) => page.getByRole('status').filter({ hasText: 'Two tabs spec:' });

/** The step a status line shows ("… step 12 of 2000 …"). */
async function shownStep(page: Page): Promise<number> {
  const text = (await runStatus(page).textContent()) ?? '';
  const match = /step (\d+) of 2000/.exec(text);
  if (!match) throw new Error(`no step in "${text}"`);
  return Number(match[1]);
}

test('a second tab follows the run another tab trains read-only and live, is told who owns it, and takes it over when that tab closes', async ({ page, hub: _hub }, testInfo) => {
  test.setTimeout(360_000);
  const errors = watchConsole(page);
  await seedRecipe(
    page,
    {
      name: 'Two tabs spec',
      model: { source: FIXTURE_MODEL, revision: 'main' },
      tasks: [PHRASES_TASK],
      mixture: { strategy: 'proportional', per: 'example' },
      lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false, layout: 'shared' },
      optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
      schedule: { kind: 'constant', warmup_steps: 0 },
      batch_size: 1,
      grad_accum: 1,
      max_length: 32,
      packing: false,
      train_on_prompts: false,
      steps: 2000,
      clip: 1,
      nonfinite: 'skip',
      recompute: false,
      eval_every: 5000,
      eval_examples: 2,
      eval_max_new_tokens: 4,
      checkpoint_every: 5,
      seed: 3,
    },
    'once',
  );
  await importTaskFiles(page, [FPB_FILE]);

  // The first tab trains a few steps and pauses at a checkpoint.
  await page.goto('/#/train');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(runStatus(page)).toContainText(/training, step (\d{2,}) of 2000/, { timeout: 180_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(runStatus(page)).toContainText(/Paused at step \d+ of 2000/, { timeout: 60_000 });

  // A second tab opens on the paused run, then the first tab resumes it.
  const second = await page.context().newPage();
  await second.goto('/#/train');
  await expect(runStatus(second)).toContainText(/Paused at step \d+ of 2000/, { timeout: 30_000 });
  await page.getByRole('button', { name: /^Resume/ }).click();
  await expect(runStatus(page)).toContainText(/training, step \d+ of 2000/, { timeout: 120_000 });

  // The second tab's attempt to train it is answered with who owns it; it then follows the run read-only.
  await second.getByRole('button', { name: /^Resume/ }).click();
  const answer = second.getByRole('alert');
  await expect(answer).toContainText(/is being trained in another tab of this studio \(its record is at step \d+, written .+\)\. It is read-only here/, { timeout: 30_000 });
  await expect(runStatus(second)).toContainText(/Training in another tab of this studio: step \d+ of 2000\. Shown here read-only and live/);
  await expect(second.getByRole('button', { name: /^Resume|^Start/ })).toHaveCount(0);
  const firstSeen = await shownStep(second);
  await expect.poll(() => shownStep(second), { timeout: 60_000, message: 'the second tab shows the steps the first one trains' }).toBeGreaterThan(firstSeen + 2);
  await second.screenshot({ path: testInfo.outputPath('second-tab-watching.png'), fullPage: true });

  // Opened afresh while the first tab trains, it shows the run read-only at once (not as interrupted).
  await second.reload();
  await expect(runStatus(second)).toContainText(/Training in another tab of this studio: step \d+ of 2000/, { timeout: 30_000 });
  await expect(runStatus(second)).not.toContainText('stopped when the page was closed');
  const afterReload = await shownStep(second);
  await expect.poll(() => shownStep(second), { timeout: 60_000 }).toBeGreaterThan(afterReload + 2);

  // Take over: it waits for the first tab; once that tab is closed, it resumes the run from its last checkpoint here.
  await second.getByRole('button', { name: 'Take over when the other tab closes' }).click();
  await expect(runStatus(second)).not.toContainText(/Paused|Cancelled|Stopped/);
  expect(errors).toEqual([]);
  const closedAt = await shownStep(page);
  await page.close();
  await expect(runStatus(second)).toContainText(/Running: training, step \d+ of 2000/, { timeout: 120_000 });
  await expect.poll(() => shownStep(second), { timeout: 60_000, message: 'the run goes on in the second tab' }).toBeGreaterThan(closedAt);
  await second.screenshot({ path: testInfo.outputPath('second-tab-took-over.png'), fullPage: true });
  await second.getByRole('button', { name: 'Cancel' }).click();
  await second.getByRole('button', { name: 'Yes, cancel the run' }).click();
  await expect(runStatus(second)).toContainText(/Cancelled at step \d+ of 2000/, { timeout: 60_000 });
});
