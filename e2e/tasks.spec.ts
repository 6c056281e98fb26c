import { writeFileSync } from 'node:fs';
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

const FPB = fixturePath('datasets/fpb/Sentences_50Agree.txt');
const TWEETS = fixturePath('datasets/twitter_fin_sentiment/sent_train.csv');

/** The studio with the fixture model in its recipe (set once: a reload keeps what the page saved). */
async function openTasksPage(page: Page, tasks: Recipe['tasks'] = []): Promise<void> {
  await seedRecipe(page, { ...DEFAULT_RECIPE, model: { source: FIXTURE_MODEL, revision: 'main' }, tasks }, 'if-absent');
  await page.goto('/#/tasks');
  await expect(page.getByRole('heading', { name: 'Tasks', exact: true })).toBeVisible();
}

async function importFile(page: Page, path: string, settings: { delimiter: string; header: string }): Promise<void> {
  await page.getByLabel('Delimiter', { exact: true }).selectOption({ label: settings.delimiter });
  await page.getByLabel('First row is a header').selectOption({ label: settings.header });
  await page.getByLabel('Choose a task file…').setInputFiles(path);
}

const taskItem = (page: Page, name: string) => page.getByRole('list', { name: 'Tasks in the recipe' }).getByRole('listitem').filter({ has: page.getByText(name, { exact: true }) });

test('imports Financial PhraseBank and the tweets, maps both as classification, shows their tokens, and keeps them over a reload', async ({ page, hub: _hub }, testInfo) => {
  const errors = watchConsole(page);
  await openTasksPage(page);

  // Financial PhraseBank: "sentence@label" lines, CRLF, no header.
  await importFile(page, FPB, { delimiter: 'At sign (@)', header: 'No' });
  await expect(page.getByTestId('import-summary')).toContainText('Sentences_50Agree.txt: 4,846 rows, 2 columns (column_1, column_2)');
  await expect(page.getByRole('region', { name: 'First rows of Sentences_50Agree.txt' })).toContainText('According to Gran , the company has no plans');
  await expect(page.getByTestId('validation-report')).toContainText('No problems found in 4,846 rows');
  const mapping = page.getByTestId('file-mapping').getByRole('form', { name: 'Column mapping' });
  await expect(mapping.getByLabel('Recipe format')).toHaveValue('classification');
  await expect(mapping.getByLabel('Text column')).toHaveValue('column_1');
  await expect(mapping.getByLabel('Label column')).toHaveValue('column_2');
  await expect(mapping.getByLabel('Label words')).toHaveValue('negative = negative\nneutral = neutral\npositive = positive');
  await expect(mapping.getByLabel('Metric')).toHaveValue('accuracy');
  await mapping.getByLabel('Task name').fill('phrase_sentiment');
  await mapping.getByRole('button', { name: 'Add to recipe' }).click();
  await expect(mapping.getByRole('status')).toHaveText('Added task "phrase_sentiment" in the recipe.');

  // The tweets: a CSV with a header, labels 0/1/2 that need words.
  await importFile(page, TWEETS, { delimiter: 'Detect', header: 'Detect' });
  await expect(page.getByTestId('import-summary')).toContainText('sent_train.csv: 9,543 rows, 2 columns (text, label)');
  await expect(page.getByRole('region', { name: 'First rows of sent_train.csv' })).toContainText('$BYND - JPMorgan reels in expectations on Beyond Meat');
  await expect(mapping.getByLabel('Recipe format')).toHaveValue('classification');
  await expect(mapping.getByRole('list', { name: 'What to fix before adding the task' })).toContainText('label "0" needs a word');
  await expect(mapping.getByRole('button', { name: 'Add to recipe' })).toBeDisabled();
  await mapping.getByLabel('Task name').fill('tweet_sentiment');
  await mapping.getByLabel('Label words').fill('0 = Bearish\n1 = Bullish\n2 = Neutral');
  await mapping.getByRole('button', { name: 'Add to recipe' }).click();
  await expect(mapping.getByRole('status')).toHaveText('Added task "tweet_sentiment" in the recipe.');

  const tasks = page.getByRole('list', { name: 'Tasks in the recipe' });
  await expect(tasks.getByRole('listitem')).toHaveCount(2);
  await expect(taskItem(page, 'phrase_sentiment')).toContainText('file Sentences_50Agree.txt (delimiter "@", no header) — 4,846 rows');
  await expect(taskItem(page, 'tweet_sentiment')).toContainText('labels 0→Bearish, 1→Bullish, 2→Neutral');

  // Token view: the tweets' first examples tokenized as training tokenizes them.
  await taskItem(page, 'tweet_sentiment').getByRole('button', { name: 'Show tokens' }).click();
  const examples = page.getByTestId('token-example');
  await expect(examples).toHaveCount(3, { timeout: 120_000 });
  const first = examples.first();
  const trained = Number(await first.getByTestId('trained-count').textContent());
  const chips = first.locator('.token');
  const trainedChips = first.locator('.token[data-trained="true"]');
  expect(trained).toBeGreaterThan(0);
  await expect(trainedChips).toHaveCount(trained);
  expect(await chips.count()).toBeGreaterThan(trained);
  await expect(first).toContainText(`of ${await chips.count()} tokens carry loss`);
  expect((await trainedChips.allTextContents()).join('')).toContain('Bearish');
  const background = (selector: string) => first.locator(selector).first().evaluate((chip) => getComputedStyle(chip).backgroundColor);
  expect(await background('.token[data-trained="true"]')).not.toBe(await background('.token[data-trained="false"]'));
  await expect(page.getByTestId('task-stats')).toContainText('Training examples');
  const stats = await page.evaluate(() => document.querySelector('[data-testid="task-stats"]')?.textContent ?? '');
  expect(stats).toMatch(/Rows in the file9,543/);
  await page.screenshot({ path: testInfo.outputPath('tasks.png'), fullPage: true });
  const tokenView = page.getByRole('region', { name: 'Token view' });
  await tokenView.screenshot({ path: testInfo.outputPath('tasks-token-view.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await tokenView.screenshot({ path: testInfo.outputPath('tasks-token-view-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });

  // A broken file: its report names the line; the tasks already added stay.
  const broken = testInfo.outputPath('broken.csv');
  writeFileSync(broken, 'text,label\nrates rise,0\nprofits, fall, sharply,1\nshares flat,2\n');
  await importFile(page, broken, { delimiter: 'Detect', header: 'Detect' });
  const report = page.getByTestId('validation-report');
  await expect(report).toContainText('1 error in 1 row');
  await expect(report).toContainText('RAGGED_ROW');
  await expect(report).toContainText('Lines: 3');
  await expect(report).toContainText('broken.csv, line 3 (row 2)');
  await expect(page.getByTestId('file-mapping').getByRole('row', { name: /^2 error/ })).toBeVisible();
  await expect(mapping.getByLabel('Label words')).toHaveValue('0 = \n2 = ');
  await expect(tasks.getByRole('listitem')).toHaveCount(2);
  await page.getByTestId('file-mapping').screenshot({ path: testInfo.outputPath('tasks-broken-file.png') });

  // A file no importer can read: the error shows where the import was, and nothing else changes.
  const unreadable = testInfo.outputPath('unreadable.parquet');
  writeFileSync(unreadable, 'PAR1 this is not a Parquet file PAR1');
  await importFile(page, unreadable, { delimiter: 'Detect', header: 'Detect' });
  const failure = page.getByRole('region', { name: 'Import a task file' }).getByRole('alert');
  await expect(failure).toContainText('Could not import unreadable.parquet');
  await expect(tasks.getByRole('listitem')).toHaveCount(2);
  await failure.getByRole('button', { name: 'Dismiss' }).click();
  await expect(failure).toHaveCount(0);

  // Editing a file task reads its file again and shows its mapping.
  await taskItem(page, 'phrase_sentiment').getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { name: 'Edit task phrase_sentiment — Sentences_50Agree.txt' })).toBeVisible();
  await expect(mapping.getByLabel('Text column')).toHaveValue('column_1');
  await expect(mapping.getByRole('button', { name: 'Update task' })).toBeEnabled();

  await page.reload();
  await expect(tasks.getByRole('listitem')).toHaveCount(2);
  const files = page.getByRole('table', { name: 'Imported files' });
  await expect(files.getByRole('row')).toHaveCount(4);
  await expect(files.getByRole('row', { name: /Sentences_50Agree\.txt/ })).toContainText('4,846');
  await expect(files.getByRole('row', { name: /sent_train\.csv/ })).toContainText('9,543');
  await expect(files.getByRole('row', { name: /broken\.csv/ })).toBeVisible();
  expect(errors).toEqual([]);
});

test('a Hub data set is added with its columns typed in, and nothing is downloaded', async ({ page, hub }) => {
  const errors = watchConsole(page);
  await openTasksPage(page);
  const hubPanel = page.getByRole('region', { name: 'Add a task from a Hub data set' });
  await expect(hubPanel.getByRole('list', { name: 'What to fix before adding the task' })).toHaveCount(0);
  await hubPanel.getByLabel('Hub data set').fill('openai/gsm8k');
  await hubPanel.getByLabel('Config').fill('main');
  await hubPanel.getByLabel('Validation split').fill('test');
  await hubPanel.getByLabel('Recipe format').selectOption({ label: 'Question and answer' });
  await expect(hubPanel.getByLabel('Metric')).toHaveValue('numeric_match');
  await hubPanel.getByLabel('Question column').fill('question');
  await hubPanel.getByLabel('Answer column').fill('answer');
  await hubPanel.getByLabel('Role').selectOption({ label: 'Regularizer' });
  await hubPanel.getByLabel('Max examples').fill('2000');
  await hubPanel.getByLabel('Task name').fill('math_word_problems');
  await hubPanel.getByRole('button', { name: 'Add to recipe' }).click();
  await expect(hubPanel.getByRole('status')).toHaveText('Saved task "math_word_problems" in the recipe.');
  await expect(taskItem(page, 'math_word_problems')).toContainText('Hub openai/gsm8k (main/train, validation test)');
  await expect(taskItem(page, 'math_word_problems')).toContainText('regularizer');
  expect(hub.requests.filter((request) => request.includes('datasets/'))).toEqual([]);

  await taskItem(page, 'math_word_problems').getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { name: 'Edit task math_word_problems' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Edit task math_word_problems' }).getByLabel('Hub data set')).toHaveValue('openai/gsm8k');
  expect(errors).toEqual([]);
});

test('a Hub data set is downloaded and previewed, its mapping suggested from its rows, and its tokens shown', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  const dir = await mkdtemp(join(tmpdir(), 'tasks-hub-'));
  await writeTweetsDataset(dir, { train: { shards: [150, 150], every: 30 } });
  const hub = await startFixtureHub({ [`datasets/${TWEETS_DATASET}`]: dir });
  try {
    await pointStudioAtHub(page, hub.endpoint);
    await openTasksPage(page);
    const hubPanel = page.getByRole('region', { name: 'Add a task from a Hub data set' });
    await hubPanel.getByLabel('Hub data set').fill('nobody/nothing');
    await hubPanel.getByRole('button', { name: 'Download and preview' }).click();
    await expect(hubPanel.getByRole('alert')).toContainText('Could not read nobody/nothing (default/train)');
    await expect(hubPanel.getByRole('alert')).toContainText('Check the data set id, config and split');

    await hubPanel.getByLabel('Hub data set').fill(TWEETS_DATASET);
    await hubPanel.getByRole('button', { name: 'Download and preview' }).click();
    const preview = hubPanel.getByRole('region', { name: `First rows of ${TWEETS_DATASET} (default/train)` });
    await expect(preview).toContainText('First 20 of 300 rows', { timeout: 60_000 });
    await expect(preview).toContainText('$BYND - JPMorgan reels in expectations on Beyond Meat');
    // The mapping is suggested from the rows, as for a file: classification of text by label.
    await expect(hubPanel.getByLabel('Recipe format')).toHaveValue('classification');
    await expect(hubPanel.getByLabel('Text column')).toHaveValue('text');
    await expect(hubPanel.getByLabel('Label column')).toHaveValue('label');
    await expect(hubPanel.getByLabel('Task name')).toHaveValue('twitter_financial_news_sentiment');
    await hubPanel.screenshot({ path: testInfo.outputPath('tasks-hub-preview.png') });
    // The first rows hold label 0 only (the file is sorted by label); the label words list all three, counted over every row.
    await expect(hubPanel.getByLabel('Label words')).toHaveValue('0 = \n1 = \n2 = ');
    await hubPanel.getByLabel('Label words').fill('0 = bearish\n1 = bullish\n2 = neutral');
    await hubPanel.getByRole('button', { name: 'Add to recipe' }).click();
    await expect(taskItem(page, 'twitter_financial_news_sentiment')).toContainText(`Hub ${TWEETS_DATASET} (default/train)`);

    // The token view reads the stored copy: the split is not downloaded again.
    const downloads = () => hub.requests.filter((request) => request.endsWith('.parquet')).length;
    expect(downloads()).toBe(2);
    await taskItem(page, 'twitter_financial_news_sentiment').getByRole('button', { name: 'Show tokens' }).click();
    await expect(page.getByTestId('token-example').first()).toBeVisible({ timeout: 120_000 });
    expect(downloads()).toBe(2);
    expect(errors).toEqual([]);
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a task the recipe finds fault with shows the problem beside it, and a task whose file is gone says so', async ({ page, hub: _hub }) => {
  const errors = watchConsole(page);
  await openTasksPage(page, [
    { name: 'headlines', source: { file: 'headlines.csv' }, format: 'classification', columns: { text: 'text', label: 'label' }, metric: 'rouge_l', role: 'task', validation_fraction: 0.1 },
  ]);
  const item = taskItem(page, 'headlines');
  await expect(item.getByRole('list', { name: 'Problems of task headlines' })).toContainText('metric rouge_l does not suit classification; use accuracy or loss');
  await expect(item).toContainText('headlines.csv is not imported in this browser: import it above before training.');

  // Its mapping can still be edited, with the column names typed in; fixing the metric clears the problem.
  await item.getByRole('button', { name: 'Edit' }).click();
  const editor = page.getByTestId('file-mapping');
  await expect(editor.getByRole('heading', { name: 'Edit task headlines — headlines.csv' })).toBeFocused();
  await expect(editor.getByLabel('Text column')).toHaveValue('text');
  await expect(editor.getByRole('list', { name: 'What to fix before adding the task' })).toContainText('Metric: rouge_l cannot score a classification task.');
  await editor.getByLabel('Metric').selectOption('accuracy');
  await editor.getByRole('button', { name: 'Update task' }).click();
  await expect(item.getByRole('list', { name: 'Problems of task headlines' })).toHaveCount(0);
  await expect(item).toContainText('Accuracy (the label word)');
  await item.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByText('The recipe has no tasks yet.')).toBeVisible();
  await expect(editor).toHaveCount(0);
  expect(errors).toEqual([]);
});
