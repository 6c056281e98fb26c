/**
 * The journey of issue #7, as a person takes it, in real Chromium with the real engine worker, WebGPU
 * (SwiftShader here), IndexedDB and downloads: the real tiny Llama served in Hub layout → the two
 * finance task files from ../shared/fixtures → a temperature mixture → 30 training steps with live
 * per-task curves → a reload in the middle → resume → evaluate → export the PEFT adapter (its files
 * checked) → the playground. A screenshot of every page lands in the test's output folder.
 */
import type { Page, TestInfo } from '@playwright/test';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { fixturePath } from '../test/fixtures.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL } from './hub.ts';
import { expect, test } from './studio.ts';

const FPB = fixturePath('datasets/fpb/Sentences_50Agree.txt');
const TWEETS = fixturePath('datasets/twitter_fin_sentiment/sent_train.csv');
const MODEL_CONFIG = fixturePath('models/aidreams260K/config.json');

const STEPS = 30;
const RANK = 4;
const TARGETS = ['q_proj', 'v_proj'];

/**
 * The tweets file with its rows sorted by label, as files often come: a prefix of its validation split
 * is one label only, so the evaluation must sample across labels to measure anything.
 */
async function labelSortedTweets(testInfo: TestInfo): Promise<string> {
  const [header, ...rows] = (await readFile(TWEETS, 'utf8')).split('\n');
  const records: string[] = [];
  let current = '';
  for (const line of rows) {
    current = current ? `${current}\n${line}` : line;
    if ((current.match(/"/g)?.length ?? 0) % 2 === 0) {
      if (current.trim()) records.push(current);
      current = '';
    }
  }
  const labelOf = (record: string) => record.slice(record.lastIndexOf(',') + 1).trim();
  const sorted = records.filter((record) => /^[012]$/.test(labelOf(record))).sort((a, b) => labelOf(a).localeCompare(labelOf(b)));
  const path = testInfo.outputPath('sorted/sent_train.csv');
  await mkdir(testInfo.outputPath('sorted'), { recursive: true });
  await writeFile(path, `${header}\n${sorted.join('\n')}\n`);
  return path;
}

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

async function openPage(page: Page, name: string): Promise<void> {
  const link = page.getByRole('navigation', { name: 'Studio' }).getByRole('link', { name, exact: true });
  await link.click();
  await expect(link).toHaveAttribute('aria-current', 'page');
}

/** Imports a file and adds it to the recipe as a task, naming it (studio.ts's importTaskFiles only imports). */
async function importTaskFile(page: Page, path: string, settings: { delimiter: string; header: string; name: string; labels?: string }): Promise<void> {
  await page.getByLabel('Delimiter', { exact: true }).selectOption({ label: settings.delimiter });
  await page.getByLabel('First row is a header').selectOption({ label: settings.header });
  await page.getByLabel('Choose a task file…').setInputFiles(path);
  const mapping = page.getByTestId('file-mapping').getByRole('form', { name: 'Column mapping' });
  await expect(mapping.getByLabel('Recipe format')).toHaveValue('classification', { timeout: 60_000 });
  await mapping.getByLabel('Task name').fill(settings.name);
  if (settings.labels) await mapping.getByLabel('Label words').fill(settings.labels);
  // Training on SwiftShader: a few dozen examples per task keep the journey to minutes.
  await mapping.getByLabel('Max examples').fill('48');
  await mapping.getByRole('button', { name: 'Add to recipe' }).click();
  await expect(mapping.getByRole('status')).toHaveText(`Added task "${settings.name}" in the recipe.`);
}

async function setNumber(page: Page, label: string, value: number): Promise<void> {
  await page.getByLabel(label, { exact: true }).fill(String(value));
}

const runStatus = (page: Page) => page.getByRole('status').filter({ hasText: 'Finance journey:' });
const lossChart = (page: Page) => page.getByRole('figure', { name: 'Training loss' });

async function shownStep(page: Page): Promise<number> {
  const text = (await runStatus(page).textContent()) ?? '';
  return Number(/step (\d+)/.exec(text)?.[1] ?? Number.NaN);
}

/** Tensor names and shapes from a safetensors file's header (8-byte little-endian length, then JSON). */
function safetensorsShapes(bytes: Uint8Array): Record<string, number[]> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, { shape: number[] }>;
  return Object.fromEntries(Object.entries(header).filter(([name]) => name !== '__metadata__').map(([name, tensor]) => [name, tensor.shape]));
}

test('load a Hub model, import two finance tasks, mix, train with a reload in the middle, evaluate, export and chat', async ({ page, hub: _hub }, testInfo) => {
  test.setTimeout(900_000);
  const errors = watchConsole(page);

  // Start: the guided start and this GPU.
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  await expect(page.getByTestId('adapter')).toContainText(/swiftshader|vendor/i);
  await screenshot(page, testInfo, '01-start');

  // Model: the real tiny Llama from the (local) Hub.
  await openPage(page, 'Model');
  await page.getByLabel('Hub model id').fill(FIXTURE_MODEL);
  await page.getByLabel('Revision').fill('main');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  const card = page.getByTestId('model-card');
  await expect(card).toBeVisible({ timeout: 120_000 });
  await expect(card).toContainText('LlamaForCausalLM');
  await screenshot(page, testInfo, '02-model');

  // Tasks: Financial PhraseBank ("sentence@label", no header) and the tweets CSV (labels 0/1/2).
  await openPage(page, 'Tasks');
  await importTaskFile(page, FPB, { delimiter: 'At sign (@)', header: 'No', name: 'phrases' });
  await importTaskFile(page, await labelSortedTweets(testInfo), { delimiter: 'Detect', header: 'Detect', name: 'tweets', labels: '0 = bearish\n1 = bullish\n2 = neutral' });
  await expect(page.getByRole('list', { name: 'Tasks in the recipe' }).getByRole('listitem')).toHaveCount(2);
  // The recipe's default max_length (256) is past the model's 128 positions: the page says what a run will use.
  const CLAMPED = "max_length 256 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128.";
  await expect(page.getByTestId('context-notice')).toHaveText(CLAMPED);
  await screenshot(page, testInfo, '03-tasks');

  // Train settings first, so the mixture preview shows this run's length.
  await openPage(page, 'Train');
  await setNumber(page, 'Rank (r)', RANK);
  await setNumber(page, 'Alpha', 2 * RANK);
  for (const target of ['k_proj', 'o_proj']) await page.getByRole('checkbox', { name: target }).uncheck();
  await setNumber(page, 'Learning rate', 1e-3);
  await setNumber(page, 'Batch size', 2);
  await expect(page.getByTestId('context-notice')).toHaveText(CLAMPED);
  // The model's whole context: a longer example now loses the end of its answer, never its prompt's start.
  await setNumber(page, 'Max length (tokens)', 128);
  await expect(page.getByTestId('context-notice')).toHaveCount(0);
  await setNumber(page, 'Steps', STEPS);
  await setNumber(page, 'Evaluate every (steps)', 15);
  await setNumber(page, 'Evaluation examples', 4);
  await setNumber(page, 'Generated tokens per answer', 4);
  await setNumber(page, 'Checkpoint every (steps)', 5);

  // Mixture: temperature sampling, T = 2; one probability line per task.
  await openPage(page, 'Mixture');
  await page.getByRole('radio', { name: 'Temperature' }).check();
  await page.getByRole('spinbutton', { name: 'Temperature T' }).fill('2');
  await expect(page.getByTestId('probability-chart').locator('.recharts-line')).toHaveCount(2);
  await expect(page.getByRole('table', { name: 'Expected examples and tokens per task' }).getByRole('row', { name: /^tweets/ })).toBeVisible();
  await screenshot(page, testInfo, '04-mixture');

  // Recipes: name the run's recipe.
  await openPage(page, 'Recipes');
  await page.getByLabel('Recipe name').fill('Finance journey');
  await screenshot(page, testInfo, '05-recipes');

  // Train: live per-task curves, then a reload in the middle of the run.
  await openPage(page, 'Train');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(runStatus(page)).toContainText(/training, step ([6-9]|[1-2]\d) of 30/, { timeout: 300_000 });
  await expect(lossChart(page).locator('.recharts-line')).toHaveCount(3);
  await expect(lossChart(page).locator('.recharts-legend-item-text')).toHaveText(['overall', 'phrases', 'tweets']);
  await screenshot(page, testInfo, '06-train-running');

  await page.reload();
  await expect(runStatus(page)).toContainText(/Resume continues from its last checkpoint, step [1-9]\d*, of 30/);
  await expect(lossChart(page).locator('.recharts-line')).toHaveCount(3);
  const checkpoint = await shownStep(page);
  expect(checkpoint % 5).toBe(0);
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(runStatus(page)).toContainText('Completed: 30 steps.', { timeout: 400_000 });
  await expect(page.getByRole('table', { name: 'Final evaluation' }).getByRole('row', { name: /^tweets accuracy \d+\.\d%/ })).toBeVisible();
  await screenshot(page, testInfo, '07-train-completed');
  // The run and its first charts, for the README (docs/screenshot.png).
  await page.screenshot({ path: testInfo.outputPath('readme-train.png'), fullPage: true, clip: { x: 140, y: 0, width: 1000, height: 1240 } });

  // Evaluate: the run's per-task metrics.
  await openPage(page, 'Evaluate');
  const final = page.getByRole('table', { name: /^Finance journey — final evaluation of run/ });
  await expect(final.getByRole('row', { name: /^phrases accuracy \d+\.\d%/ })).toBeVisible();
  await expect(final.getByRole('row', { name: /^tweets accuracy \d+\.\d%/ })).toBeVisible();
  // The sorted tweets: a sample across labels, the confusion matrix and the answers with their input.
  const tweets = page.getByRole('region', { name: 'Details of tweets' });
  await expect(tweets.getByRole('table', { name: 'Confusion matrix of tweets' })).toBeVisible();
  await expect(tweets.getByRole('table', { name: 'Per-class results of tweets' })).toBeVisible();
  await tweets.getByText('Answers from the validation split: input, expected and got').click();
  const answers = tweets.getByRole('table', { name: 'Answers of tweets' });
  await expect(answers.getByRole('row').nth(1)).toBeVisible();
  const expectedLabels = await answers.locator('tbody tr td:nth-child(2)').allTextContents();
  expect(new Set(expectedLabels).size).toBeGreaterThan(1);
  await screenshot(page, testInfo, '08-evaluate');

  // Library: export the trained adapter as a PEFT zip and check what Python's PEFT will read.
  await openPage(page, 'Library');
  const adapterRow = page.getByRole('region', { name: 'Adapters' }).getByRole('row', { name: /\/shared/ });
  const download = page.waitForEvent('download');
  await adapterRow.getByRole('button', { name: 'Download PEFT zip' }).click();
  const zipPath = testInfo.outputPath('adapter-peft.zip');
  await (await download).saveAs(zipPath);
  const files = unzipSync(new Uint8Array(await readFile(zipPath)));
  expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  const adapterConfig = JSON.parse(new TextDecoder().decode(files['adapter_config.json'])) as Record<string, unknown>;
  expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: RANK, lora_alpha: 2 * RANK, base_model_name_or_path: FIXTURE_MODEL });
  expect((adapterConfig.target_modules as string[]).sort()).toEqual(TARGETS);
  const model = JSON.parse(await readFile(MODEL_CONFIG, 'utf8')) as { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number };
  const headDim = model.hidden_size / model.num_attention_heads;
  const expected: Record<string, number[]> = {};
  for (let layer = 0; layer < model.num_hidden_layers; layer++) {
    const prefix = `base_model.model.model.layers.${layer}.self_attn`;
    expected[`${prefix}.q_proj.lora_A.weight`] = [RANK, model.hidden_size];
    expected[`${prefix}.q_proj.lora_B.weight`] = [model.num_attention_heads * headDim, RANK];
    expected[`${prefix}.v_proj.lora_A.weight`] = [RANK, model.hidden_size];
    expected[`${prefix}.v_proj.lora_B.weight`] = [model.num_key_value_heads * headDim, RANK];
  }
  expect(safetensorsShapes(files['adapter_model.safetensors']!)).toEqual(expected);
  await screenshot(page, testInfo, '09-library');

  // Playground: the base model and the trained adapter, side by side.
  await openPage(page, 'Playground');
  await page.getByLabel('Max new tokens').fill('24');
  await page.getByLabel('Temperature').fill('0');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 180_000 });
  await expect(page.getByTestId('pane-base-text')).not.toBeEmpty();
  await expect(page.getByTestId('pane-adapter-text')).not.toBeEmpty();
  await screenshot(page, testInfo, '10-playground');

  expect(errors).toEqual([]);
});
