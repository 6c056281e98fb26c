import type { Page } from '@playwright/test';
import { readFile, writeFile } from 'node:fs/promises';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test, TWEETS_FILE, TWEETS_TASK } from './studio.ts';


/** Runs small enough for SwiftShader: the tiny model, rank 4 on q and v, a few steps. */
function recipe(name: string, tasks: unknown[]) {
  return {
    name,
    model: { source: FIXTURE_MODEL, revision: 'main' },
    tasks,
    mixture: { strategy: 'temperature', temperature: 2, per: 'example' },
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
    optimizer: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 2,
    grad_accum: 1,
    max_length: 128,
    packing: false,
    train_on_prompts: false,
    steps: 4,
    clip: 1,
    nonfinite: 'skip',
    recompute: false,
    eval_every: 100,
    eval_examples: 6,
    eval_max_new_tokens: 4,
    checkpoint_every: 2,
    seed: 11,
  };
}

const SINGLE = recipe('Phrases only', [PHRASES_TASK]);
const MIXTURE = recipe('Phrases and tweets', [PHRASES_TASK, TWEETS_TASK]);

/** Trains the studio's current recipe to the end on the Train page. */
async function train(page: Page, name: string): Promise<void> {
  await page.goto('/#/train');
  await page.getByRole('button', { name: /^Start( a new run)?$/ }).click();
  await expect(page.getByRole('status').filter({ hasText: `${name}:` })).toContainText('Completed: 4 steps.', { timeout: 240_000 });
}

/** The Score column of a metrics table, by task. */
async function scores(page: Page, caption: RegExp): Promise<Record<string, string>> {
  const rows = await page.getByRole('table', { name: caption }).locator('tbody tr').all();
  const out: Record<string, string> = {};
  for (const row of rows) out[(await row.getByRole('rowheader').textContent())!] = (await row.getByRole('cell').nth(1).textContent())!;
  return out;
}

test.describe('Evaluate page', () => {
  test('shows a run’s per-task metrics, evaluates again and the base model, and compares runs side by side', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(600_000);
    const errors = watchConsole(page);
    await seedRecipe(page, SINGLE, 'if-absent');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);

    // A single-task run, then the mixture run, its recipe loaded on the Library page as a user would.
    await train(page, SINGLE.name);
    await page.goto('/#/library');
    const recipeFile = testInfo.outputPath('recipe.json');
    await writeFile(recipeFile, JSON.stringify(MIXTURE));
    await page.getByLabel('Import recipe.json').setInputFiles(recipeFile);
    await expect(page.getByRole('status').filter({ hasText: `Loaded “${MIXTURE.name}” with 2 tasks` })).toBeVisible();
    await train(page, MIXTURE.name);

    // The newest run's final evaluation, task by task.
    await page.goto('/#/evaluate');
    await expect(page.getByLabel('Results of')).toHaveValue(/^run:/);
    const finalTable = page.getByRole('table', { name: new RegExp(`^${MIXTURE.name} — final evaluation of run`) });
    await expect(finalTable.getByRole('row', { name: /^phrases accuracy \d+\.\d% \d+\.\d{3} 6$/ })).toBeVisible();
    await expect(finalTable.getByRole('row', { name: /^tweets accuracy \d+\.\d% \d+\.\d{3} 6$/ })).toBeVisible();
    const phrasesResults = page.getByRole('region', { name: 'Details of phrases' });
    await phrasesResults.getByText('Answers from the validation split: input, expected and got').click();
    await expect(phrasesResults.getByRole('table', { name: 'Answers of phrases' }).getByRole('row').nth(1)).toBeVisible();

    // Evaluated again with its exported adapter, the run's numbers come back exactly.
    const runScores = await scores(page, /final evaluation of run/);
    await page.getByRole('button', { name: 'Evaluate again' }).click();
    await expect(page.getByRole('button', { name: 'Cancel evaluation' })).toBeVisible();
    await expect(page.getByRole('status').filter({ hasText: `Evaluated ${MIXTURE.name} (evaluated again)` })).toBeVisible({ timeout: 180_000 });
    await expect(page.getByLabel('Results of')).toHaveValue(/^evaluation-/);
    expect(await scores(page, /evaluated on this page/)).toEqual(runScores);

    // The base model on the current recipe's tasks.
    await expect(page.getByLabel('Model to evaluate')).toHaveValue('');
    await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Evaluated Base model' })).toBeVisible({ timeout: 180_000 });
    // Cancel stops an evaluation, and nothing it may still return is kept.
    await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
    await page.getByRole('button', { name: 'Cancel evaluation' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'The evaluation of Base model was cancelled.' })).toBeVisible({ timeout: 60_000 });
    await expect(page.getByLabel('Results of').getByRole('option')).toHaveCount(4);

    // Side by side: the single-task run as the baseline against the mixture run and the base model.
    const compare = page.getByRole('region', { name: 'Compare runs' });
    const choose = async (label: string | RegExp, on: boolean) => compare.getByRole('checkbox', { name: label }).setChecked(on);
    await choose(new RegExp(`^${SINGLE.name} —`), true);
    await choose(new RegExp(`^${MIXTURE.name} — final`), true);
    await choose(/^Base model —/, true);
    await choose(/evaluated again/, false);
    await compare.getByLabel('Baseline').selectOption({ label: SINGLE.name });
    const table = compare.getByRole('table');
    await expect(table.getByRole('columnheader')).toHaveText(['Task', `${SINGLE.name} (baseline)`, MIXTURE.name, 'Base model']);
    const phrases = table.getByRole('row', { name: /^phrases/ });
    // Every other column shows its difference with a sign, an up or down arrow and a word, not colour alone.
    for (const index of [1, 2]) await expect(phrases.getByRole('cell').nth(index)).toHaveText(/^\d+\.\d%( ★ best)?(▲ \+|▼ −|= ±)\d+\.\d pts (better|worse|same)(, within noise)?$/);
    // ★ best marks the top value only when there is one: three equal scores have no best.
    const values = (await phrases.getByRole('cell').locator('.compare-value').allTextContents()).map((text) => Number.parseFloat(text));
    const top = Math.max(...values);
    await expect(phrases.locator('td.best')).toHaveCount(values.every((value) => value === top) ? 0 : values.filter((value) => value === top).length);
    const tweets = table.getByRole('row', { name: /^tweets/ });
    await expect(tweets.getByRole('cell').nth(0)).toHaveText('—');
    await compare.getByLabel('Compare by').selectOption({ label: 'Validation loss' });
    await expect(table).toHaveAccessibleName(/Validation loss per task \(lower is better\)/);
    await expect(phrases.getByRole('cell').nth(1)).toHaveText(/^\d+\.\d{3}( ★ best)?(▲ \+\d+\.\d{3} worse|▼ −\d+\.\d{3} better|= ±0\.000 same)/);
    await page.screenshot({ path: testInfo.outputPath('evaluate.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('evaluate-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // The page's own evaluations are kept: after a reload they are still there to show and compare; one can be forgotten.
    await page.reload();
    const resultsOf = page.getByLabel('Results of');
    await expect(resultsOf.getByRole('option')).toHaveCount(4);
    await resultsOf.selectOption({ label: 'Base model' });
    await expect(page.getByRole('table', { name: /evaluated on this page/ })).toBeVisible();
    await page.getByRole('button', { name: 'Forget this evaluation' }).click();
    await expect(resultsOf.getByRole('option')).toHaveCount(3);
    await page.reload();
    await expect(resultsOf.getByRole('option')).toHaveCount(3);
    await expect(resultsOf.getByRole('option', { name: 'Base model' })).toHaveCount(0);

    // The Library lists both runs; a run's recipe downloads as recipe.json; deleting a run can take its checkpoint and adapters.
    await page.goto('/#/library');
    const runs = page.getByRole('region', { name: 'Runs' });
    const singleRow = runs.getByRole('row', { name: new RegExp(SINGLE.name) });
    await expect(singleRow).toContainText('completed');
    await expect(singleRow).toContainText('4 / 4');
    await expect(runs.getByRole('row', { name: new RegExp(MIXTURE.name) })).toContainText('completed');
    const download = page.waitForEvent('download');
    await singleRow.getByRole('button', { name: 'Download recipe.json' }).click();
    const recipeDownload = await download;
    expect(recipeDownload.suggestedFilename()).toBe('recipe.json');
    await recipeDownload.saveAs(testInfo.outputPath('downloaded-recipe.json'));
    expect(JSON.parse(await readFile(testInfo.outputPath('downloaded-recipe.json'), 'utf8'))).toMatchObject({ name: SINGLE.name, tasks: [{ name: 'phrases' }] });

    const storeRow = (store: string) => page.locator('table.limits').getByRole('row', { name: new RegExp(`^${store}\\b`) });
    // Each run keeps its two newest checkpoints (steps 2 and 4).
    await expect(storeRow('checkpoints')).toContainText('4 items');
    await expect(storeRow('adapters')).toContainText('2 items');
    await singleRow.getByRole('button', { name: 'Delete' }).click();
    await expect(singleRow.getByRole('checkbox', { name: /Also delete its 2 checkpoints \(.*\) and its 1 adapter/ })).toBeChecked();
    await singleRow.getByRole('button', { name: 'Yes, delete' }).click();
    await expect(singleRow).toHaveCount(0);
    await expect(storeRow('runs')).toContainText('1 items');
    await expect(storeRow('checkpoints')).toContainText('2 items');
    await expect(storeRow('adapters')).toContainText('1 items');
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
