import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, RECIPE_KEY, seedRecipe, test, TWEETS_FILE, TWEETS_TASK } from './studio.ts';

const RECIPE = {
  name: 'Audited',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  tasks: [PHRASES_TASK, TWEETS_TASK],
  mixture: { strategy: 'proportional', per: 'example' },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  max_length: 96,
  steps: 4,
  seed: 11,
};

test.describe('Data audit', () => {
  test('audits the tasks in the worker, shows them per task and across tasks, applies a suggested change, and reports a term list that does not parse', async ({ page, hub: _hub }) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');
    await importTaskFiles(page, [FPB_FILE, TWEETS_FILE]);

    await page.goto('/#/tasks');
    await page.getByRole('button', { name: 'Audit the data' }).click();
    const phrases = page.getByRole('region', { name: 'Audit of phrases' });
    await expect(phrases).toBeVisible({ timeout: 180_000 });
    await expect(phrases).toContainText('40 training');
    await expect(phrases).toContainText('Bar to beat');
    await expect(page.getByRole('region', { name: 'Audit of tweets' })).toContainText('URL');

    // max_length 96 drops a third of the phrases (no prompt is cut): the finding offers a longer max_length, applied in one click.
    const raise = phrases.getByRole('button', { name: /^Set max_length to \d+$/ });
    const wanted = Number((await raise.textContent())!.match(/\d+$/)![0]);
    expect(wanted).toBeGreaterThan(RECIPE.max_length);
    await raise.click();
    await expect.poll(async () => JSON.parse((await page.evaluate((key) => window.localStorage.getItem(key), RECIPE_KEY))!).max_length).toBe(wanted);

    await page.goto('/#/mixture');
    const table = page.getByRole('table', { name: 'Tasks under this mixture' });
    await expect(table).toContainText('phrases');
    await expect(table).toContainText('tweets');

    await page.goto('/#/tasks');
    await page.getByText('Identity terms probed for bias').click();
    await page.getByLabel('Identity terms').fill('gender: she, he\nreligion muslim\n');
    await expect(page.getByRole('alert').filter({ hasText: 'line 2' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Audit again' })).toBeDisabled();
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
