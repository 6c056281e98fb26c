import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { DEFAULT_RECIPE } from '../app/studio/presets.ts';
import type { Recipe } from '../app/train/recipe.ts';
import { fixturePath } from '../test/fixtures.ts';
import { TWEETS_DATASET, writeTweetsDataset } from '../test/hub-datasets.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL, pointStudioAtHub, startFixtureHub } from './hub.ts';
import { expect, seedRecipe, test } from './studio.ts';

const PHRASES_FILE = 'Sentences_50Agree.txt';
const TWEETS_FILE = 'sent_train.csv';

/** Two sentiment tasks over the fixture files, mixed in proportion to size; 200 steps of 4 examples. */
const RECIPE: Recipe = {
  ...DEFAULT_RECIPE,
  name: 'Two sentiments',
  tasks: [
    {
      name: 'phrases',
      source: { file: PHRASES_FILE, delimiter: '@', header: false },
      format: 'classification',
      columns: { text: 'column_1', label: 'column_2' },
      role: 'task',
      validation_fraction: 0.1,
    },
    {
      name: 'tweets',
      source: { file: TWEETS_FILE },
      format: 'classification',
      columns: { text: 'text', label: 'label' },
      labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' },
      role: 'task',
      validation_fraction: 0.1,
    },
  ],
  mixture: { strategy: 'proportional', per: 'example' },
  steps: 200,
  batch_size: 4,
  grad_accum: 1,
};
const EXAMPLES_PER_RUN = 200 * 4;

/** Imports a fixture file on the Tasks page with the real worker, and returns the rows storage recorded for it. */
async function importFixture(page: Page, relative: string, fileName: string): Promise<number> {
  await page.goto('/#/tasks');
  await page.getByLabel('Choose a task file…').setInputFiles(fixturePath(relative));
  const row = page.getByRole('table', { name: 'Imported files' }).getByRole('row', { name: new RegExp(fileName.replace('.', '\\.')) });
  await expect(row).toBeVisible({ timeout: 60_000 });
  return Number((await row.getByRole('cell').nth(1).textContent())!.replace(/,/g, ''));
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');

test.describe('Mixture page', () => {
  test('temperature 2 draws one line per task and the table follows pᵢ ∝ nᵢ^(1/T); round robin changes the chart; the strategy works from the keyboard', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'once');
    const phraseRows = await importFixture(page, `datasets/fpb/${PHRASES_FILE}`, PHRASES_FILE);
    const tweetRows = await importFixture(page, `datasets/twitter_fin_sentiment/${TWEETS_FILE}`, TWEETS_FILE);
    expect(phraseRows).toBe(4846);
    expect(tweetRows).toBeGreaterThan(9000);
    // Before the tasks are prepared, sizes are the rows less the seeded validation split.
    const n = [phraseRows - Math.round(phraseRows * 0.1), tweetRows - Math.round(tweetRows * 0.1)];

    await page.goto('/#/mixture');
    await expect(page.getByRole('heading', { name: 'Mixture', exact: true })).toBeVisible();
    await page.getByRole('radio', { name: 'Temperature' }).check();
    const temperature = page.getByRole('spinbutton', { name: 'Temperature T' });
    await temperature.fill('3');
    await expect(page.getByRole('slider', { name: 'Temperature T' })).toHaveValue('3');
    await temperature.fill('2');
    await expect(page.getByRole('slider', { name: 'Temperature T' })).toHaveValue('2');

    const chart = page.getByTestId('probability-chart');
    await expect(chart).toHaveAttribute('aria-label', /Sampling probability of each task over 200 steps \(Temperature\).*phrases, tweets/);
    const lines = chart.locator('path.recharts-line-curve');
    await expect(lines).toHaveCount(2);
    await expect(chart.locator('.recharts-legend-item-text')).toHaveText(['phrases', 'tweets']);

    const root = n.map((size) => Math.sqrt(size));
    const p = root.map((r) => r / (root[0]! + root[1]!));
    const table = page.getByRole('table', { name: 'Expected examples and tokens per task' });
    for (const [index, name] of ['phrases', 'tweets'].entries()) {
      const cells = table.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell');
      await expect(cells.nth(0)).toHaveText(`≈ ${count(n[index]!)}`);
      await expect(cells.nth(1)).toHaveText(`${(100 * p[index]!).toFixed(1)}%`);
      await expect(cells.nth(2)).toHaveText(count(EXAMPLES_PER_RUN * p[index]!));
      await expect(cells.nth(4)).toHaveText('pending');
    }
    await expect(page.getByTestId('tokens-pending')).toContainText('Token figures are pending for phrases, tweets');
    await expect(page.getByRole('button', { name: 'Count tokens' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('mixture.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('mixture-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    const temperatureLine = await lines.first().getAttribute('d');
    await page.getByRole('radio', { name: 'Round robin' }).check();
    await expect(chart).toHaveAttribute('aria-label', /\(Round robin\)/);
    await expect(lines.first()).not.toHaveAttribute('d', temperatureLine!);
    await expect(page.getByRole('spinbutton', { name: 'Temperature T' })).toHaveCount(0);
    // Round robin alternates the 800 draws exactly.
    for (const name of ['phrases', 'tweets']) {
      await expect(table.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell').nth(2)).toHaveText('400');
    }

    // The strategies are one radio group: arrow keys move the choice, as in any radio group.
    await page.getByRole('radio', { name: 'Round robin' }).focus();
    await page.keyboard.press('ArrowDown');
    await expect(page.getByRole('radio', { name: 'Manual weights' })).toBeChecked();
    await expect(page.getByRole('radio', { name: 'Manual weights' })).toBeFocused();
    await expect(page.getByRole('spinbutton', { name: 'Weight of phrases' })).toHaveValue('1');
    await page.getByRole('spinbutton', { name: 'Weight of tweets' }).fill('3');
    await expect(table.getByRole('row', { name: /^tweets/ }).getByRole('cell').nth(2)).toHaveText('600');
    await page.getByRole('radio', { name: 'Manual weights' }).focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await expect(page.getByRole('radio', { name: 'Reverse annealed' })).toBeChecked();
    await expect(chart).toHaveAttribute('aria-label', /\(Reverse annealed\)/);

    // The choice is the recipe's: it survives a reload.
    await page.reload();
    await expect(page.getByRole('radio', { name: 'Reverse annealed' })).toBeChecked();
    expect(errors).toEqual([]);
  });

  test('an invalid setting is listed with its recipe path, and the preview says why it is not drawn', async ({ page }) => {
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'once');
    await importFixture(page, `datasets/fpb/${PHRASES_FILE}`, PHRASES_FILE);
    await importFixture(page, `datasets/twitter_fin_sentiment/${TWEETS_FILE}`, TWEETS_FILE);
    await page.goto('/#/mixture');
    await page.getByRole('radio', { name: 'Temperature' }).check();
    await page.getByRole('spinbutton', { name: 'Temperature T' }).fill('0');
    const problems = page.getByRole('region', { name: /The mixture, or the run length it depends on, has problems/ });
    await expect(problems).toContainText('mixture.temperature');
    await expect(page.getByRole('alert')).toContainText('The preview cannot be drawn: strategy.temperature must be a finite number > 0');
    await page.getByRole('spinbutton', { name: 'Temperature T' }).fill('1');
    await expect(problems).toHaveCount(0);
    await expect(page.getByTestId('probability-chart').locator('path.recharts-line-curve')).toHaveCount(2);
    expect(errors).toEqual([]);
  });

  test('tasks whose size is not known yet are named instead of guessed', async ({ page }) => {
    const errors = watchConsole(page);
    const alpaca = { name: 'alpaca', source: { hub: 'tatsu-lab/alpaca', config: 'default', split: 'train' }, format: 'instruction', role: 'regularizer', validation_fraction: 0.05 } satisfies Recipe['tasks'][number];
    await seedRecipe(page, { ...RECIPE, tasks: [...RECIPE.tasks, alpaca] }, 'always');
    await page.goto('/#/mixture');
    await expect(page.getByTestId('sizes-missing')).toContainText('“phrases”, “tweets”: import the task’s file on the Tasks page.');
    await expect(page.getByTestId('sizes-missing')).toContainText('“alpaca”: from the Hub. Downloading it once into this browser counts the examples');
    await expect(page.getByRole('button', { name: 'Download and count' })).toBeVisible();
    await expect(page.getByTestId('probability-chart')).toHaveCount(0);
    await expect(page.getByText('Regularizers (alpaca) together get this share')).toBeVisible();
    expect(errors).toEqual([]);
  });

  test('Hub data sets are downloaded and counted on request, kept in the Library, and counted again offline', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    const dir = await mkdtemp(join(tmpdir(), 'mixture-hub-'));
    // Tweets of at most 100 bytes: whole within the model's 128 positions, the context the counts are made at.
    await writeTweetsDataset(dir, { train: { shards: [600, 400], maxBytes: 100 }, validation: { shards: [100], maxBytes: 100 } });
    const hub = await startFixtureHub({ [`datasets/${TWEETS_DATASET}`]: dir });
    try {
      const hubTask = { format: 'classification', columns: { text: 'text', label: 'label' }, labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' }, role: 'task', validation_fraction: 0.1 } as const;
      const recipe = {
        ...RECIPE,
        model: { source: FIXTURE_MODEL, revision: 'main' },
        // Clamped to the model's 128 positions, which hold every tweet above: the counts below are of whole splits.
        max_length: 512,
        tasks: [
          { ...hubTask, name: 'tweets', source: { hub: TWEETS_DATASET, config: 'default', split: 'train', validation_split: 'validation' } },
          { ...hubTask, name: 'tweets-dev', source: { hub: TWEETS_DATASET, config: 'default', split: 'validation' } },
        ],
      } satisfies Recipe;
      await seedRecipe(page, recipe, 'once');
      await pointStudioAtHub(page, hub.endpoint);
      await page.goto('/#/mixture');
      await expect(page.getByTestId('sizes-missing')).toContainText('“tweets”, “tweets-dev”: from the Hub.');
      await page.screenshot({ path: testInfo.outputPath('mixture-hub-sizes-missing.png'), fullPage: true });
      await page.getByRole('button', { name: 'Download and count' }).click();

      // Exact sizes from the prepared tasks: the train split whole (its validation is its own split), 100 rows less 10%.
      const table = page.getByRole('table', { name: 'Expected examples and tokens per task' });
      await expect(table).toBeVisible({ timeout: 120_000 });
      await expect(table.getByRole('row', { name: /^tweets(?!-)/ }).getByRole('cell').nth(0)).toHaveText('1,000');
      await expect(table.getByRole('row', { name: /^tweets-dev/ }).getByRole('cell').nth(0)).toHaveText('90');
      await expect(page.getByTestId('probability-chart').locator('path.recharts-line-curve')).toHaveCount(2);
      await expect(page.getByTestId('tokens-pending')).toHaveCount(0);
      // Each split was listed and downloaded once, the train split's validation split too.
      const parquetRequests = hub.requests.filter((request) => request.includes('parquet'));
      expect(parquetRequests.filter((request) => request.startsWith('GET /api/'))).toHaveLength(2);
      expect(parquetRequests.filter((request) => request.endsWith('.parquet'))).toHaveLength(3);

      await page.goto('/#/library');
      const datasets = page.getByRole('region', { name: 'Data sets' });
      await expect(datasets.getByRole('row', { name: /default\/train\)/ })).toContainText('Parquet from the Hub, 2 files');
      await expect(datasets.getByRole('row', { name: /default\/validation\)/ })).toContainText('in the recipe');
      await datasets.screenshot({ path: testInfo.outputPath('library-hub-datasets.png') });

      // Offline: the model and both splits come from this browser's storage.
      await hub.close();
      await page.goto('/#/mixture');
      await page.reload();
      await page.getByRole('button', { name: 'Download and count' }).click();
      await expect(table.getByRole('row', { name: /^tweets(?!-)/ }).getByRole('cell').nth(0)).toHaveText('1,000', { timeout: 120_000 });
      expect(errors).toEqual([]);
    } finally {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
