import type { Page } from '@playwright/test';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelConfig } from '../app/model/config.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../app/train/peft.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL, FIXTURE_MODEL_DIR } from './hub.ts';
import { expect, seedRecipe, test } from './studio.ts';

/** The recipe every test starts with: the fixture model, which the Playground generates with. */
const RECIPE = { name: 'Playground spec', model: { source: FIXTURE_MODEL, revision: 'main' }, tasks: [], steps: 10 };
/** The fixture model's greedy continuation from BOS: ids 319, 459, 355, 260, 275, 429, 339, 315 (../shared/fixtures/README.md). */
const GREEDY_FROM_BOS = '"Echoes of vect';

/** A PEFT adapter for the fixture model, as PEFT initialises one: B = 0, so it changes nothing. */
async function zeroAdapterZip(path: string): Promise<string> {
  const model = parseModelConfig(JSON.parse(await readFile(join(FIXTURE_MODEL_DIR, 'config.json'), 'utf8')));
  const adapter = initLoraAdapter(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, 3);
  await writeFile(path, await zipPeftAdapter(exportPeftAdapter(adapter, model, FIXTURE_MODEL)));
  return path;
}

/** Counts the distinct texts a pane shows while it generates, to see that it streams. */
async function watchPaneText(page: Page, testId: string): Promise<void> {
  await page.evaluate((id) => {
    const target = document.querySelector(`[data-testid="${id}"]`)!;
    const seen = new Set<string>();
    (window as unknown as { paneTexts: Set<string> }).paneTexts = seen;
    new MutationObserver(() => seen.add(target.textContent ?? '')).observe(target, { childList: true, characterData: true, subtree: true });
  }, testId);
}

test.describe('Playground page', () => {
  test('the base model streams its answer, and an adapter with B = 0 answers exactly the same at temperature 0', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');

    // The adapter comes into the library the way a user brings one: imported on the Library page.
    await page.goto('/#/library');
    await page.getByLabel('Import PEFT adapter').setInputFiles(await zeroAdapterZip(testInfo.outputPath('zero-b-peft.zip')));
    await expect(page.getByRole('status').filter({ hasText: 'Imported imported/zero-b' })).toBeVisible();

    await page.goto('/#/playground');
    await expect(page.getByText(`Model: ${FIXTURE_MODEL}@main`)).toBeVisible();
    await page.getByLabel('Adapter', { exact: true }).selectOption('imported/zero-b');
    await expect(page.getByRole('textbox', { name: 'Prompt' })).toHaveValue('');
    await page.getByLabel('Max new tokens').fill('24');
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Top-p').fill('1');

    await watchPaneText(page, 'pane-base-text');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByRole('button', { name: 'Stop' })).toBeEnabled();
    const baseStatus = page.getByTestId('pane-base-status');
    const adapterStatus = page.getByTestId('pane-adapter-status');
    await expect(baseStatus).toHaveText(/^Done: \d+ tokens?, \d+\.\d tokens\/s; stopped because/, { timeout: 180_000 });
    await expect(adapterStatus).toHaveText(/^Done: \d+ tokens?, \d+\.\d tokens\/s/, { timeout: 120_000 });
    await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();

    const base = (await page.getByTestId('pane-base-text').textContent()) ?? '';
    expect(base.startsWith(GREEDY_FROM_BOS)).toBe(true);
    // Streamed: the pane showed several partial texts on the way to the whole one.
    const partial = await page.evaluate(() => [...(window as unknown as { paneTexts: Set<string> }).paneTexts].filter((text) => text.length > 0));
    expect(partial.length).toBeGreaterThan(1);
    expect(partial.every((text) => base.startsWith(text))).toBe(true);
    // B = 0 leaves the model as it is: greedy decoding gives the very same text.
    await expect(page.getByTestId('pane-adapter-text')).toHaveText(base);
    await expect(page.getByTestId('pane-adapter')).toContainText('imported/zero-b');

    await page.screenshot({ path: testInfo.outputPath('playground.png'), fullPage: true });
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });

  test('two adapters side by side, one renamed in the Library, answer in the left and right panes', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');
    await page.goto('/#/library');
    for (const name of ['zero-a', 'zero-b']) {
      await page.getByLabel('Import PEFT adapter').setInputFiles(await zeroAdapterZip(testInfo.outputPath(`${name}-peft.zip`)));
      await expect(page.getByRole('status').filter({ hasText: `Imported imported/${name}` })).toBeVisible();
    }
    const adapters = page.getByRole('region', { name: 'Adapters' });
    const rowA = adapters.getByRole('row', { name: /imported\/zero-a/ });
    await rowA.getByRole('button', { name: 'Rename' }).click();
    await rowA.getByLabel(/New name of adapter/).fill('  Zero A, renamed  ');
    await rowA.getByRole('button', { name: 'Save name' }).click();
    await expect(adapters.getByRole('row', { name: /Zero A, renamed/ })).toContainText('imported/zero-a');

    await page.goto('/#/playground');
    await page.getByLabel('Left pane').selectOption({ label: 'Zero A, renamed' });
    await page.getByLabel('Adapter', { exact: true }).selectOption('imported/zero-b');
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Temperature').fill('0');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByTestId('pane-adapter-status')).toHaveText(/^Done: \d+ tokens?/, { timeout: 180_000 });
    await expect(page.getByTestId('pane-base')).toContainText('Left adapter');
    await expect(page.getByTestId('pane-base')).toContainText('imported/zero-a');
    await expect(page.getByTestId('pane-adapter')).toContainText('Right adapter');
    // Both adapters have B = 0: greedy decoding gives the base model's text in both panes.
    const left = (await page.getByTestId('pane-base-text').textContent()) ?? '';
    expect(left.length).toBeGreaterThan(0);
    expect(GREEDY_FROM_BOS.startsWith(left) || left.startsWith(GREEDY_FROM_BOS)).toBe(true);
    await expect(page.getByTestId('pane-adapter-text')).toHaveText(left);
    await page.screenshot({ path: testInfo.outputPath('playground-two-adapters.png'), fullPage: true });
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });

  test('Stop cancels the generation in flight and the pane keeps what it had', async ({ page, hub: _hub }) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');
    await page.goto('/#/playground');
    await page.getByLabel('Max new tokens').fill('120');
    await page.getByLabel('Temperature').fill('0.8');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByTestId('pane-base-status')).toHaveText(/^Generating: [1-9]\d* tokens?/, { timeout: 180_000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByTestId('pane-base-status')).toHaveText(/^Stopped after \d+ tokens?\./);
    await expect(page.getByTestId('pane-base-text')).not.toBeEmpty();
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
    // The adapter pane shows the hint (no adapter in the library), not an error.
    await expect(page.getByTestId('pane-adapter')).toContainText('No adapters in the library yet');
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });

  test('chat mode sends the conversation with roles, and the settings survive a reload', async ({ page, hub: _hub }) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'if-absent');
    await page.goto('/#/playground');
    await page.getByRole('radio', { name: 'Chat' }).check();
    await page.getByLabel('Role of message 1').selectOption('system');
    await page.getByLabel('Message 1', { exact: true }).fill('You write short dreamy lines.');
    await page.getByRole('button', { name: 'Add message' }).click();
    await expect(page.getByLabel('Role of message 2')).toHaveValue('user');
    await page.getByLabel('Message 2', { exact: true }).fill('Tell me about vectors.');
    await page.getByLabel('Max new tokens').fill('12');
    await page.getByLabel('Temperature').fill('0');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByTestId('pane-base-status')).toHaveText(/^Done: \d+ tokens?/, { timeout: 180_000 });
    await expect(page.getByTestId('pane-base-text')).not.toBeEmpty();
    // The fixture model has no chat template: the page says how the messages were written instead.
    await expect(page.getByTestId('no-chat-template')).toContainText('This model has no chat template');

    await page.reload();
    await expect(page.getByRole('radio', { name: 'Chat' })).toBeChecked();
    await expect(page.getByLabel('Message 2', { exact: true })).toHaveValue('Tell me about vectors.');
    await expect(page.getByLabel('Max new tokens')).toHaveValue('12');
    await page.getByRole('button', { name: 'Remove message 1' }).click();
    await expect(page.getByLabel('Message 1', { exact: true })).toHaveValue('Tell me about vectors.');
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });

  test('an error shows in the pane where it happened, in words, and the page keeps working', async ({ page, hub: _hub }) => {
    const errors = watchConsole(page);
    // A model the Hub does not have: loading it for the base pane fails with a 404.
    await seedRecipe(page, { ...RECIPE, model: { source: 'fixtures/no-such-model', revision: 'main' } }, 'always');
    await page.goto('/#/playground');
    await page.getByRole('button', { name: 'Generate' }).click();
    const pane = page.getByTestId('pane-base');
    await expect(pane.getByRole('alert')).toContainText(/Base model could not generate: .*404/, { timeout: 60_000 });
    await expect(page.getByTestId('pane-base-status')).toHaveText('Generation failed.');
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
