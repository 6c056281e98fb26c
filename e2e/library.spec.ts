import type { Download, Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../app/model/config.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { readSafetensorsHeader } from '../app/model/safetensors.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../app/train/peft.ts';
import { formatBytes } from '../app/ui/format.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL, FIXTURE_MODEL_DIR } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, RECIPE_KEY, seedRecipe, test } from './studio.ts';

const LORA = { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] as ('q_proj' | 'v_proj')[], rslora: false };
/** What loading the fixture on the Model page stores: the files the studio loads, and the ONNX export for "verify engine". */
const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'model.safetensors', 'onnx/model.onnx'];

// Chromium logs the Hub's 404s for optional files the fixture lacks; they are expected.
const unexpected = (errors: string[]) => errors.filter((error) => !/Failed to load resource/.test(error));

const fixtureConfig = async (): Promise<ModelConfig> => parseModelConfig(JSON.parse(await readFile(join(FIXTURE_MODEL_DIR, 'config.json'), 'utf8')));

/** A PEFT zip built with the project's own export, for `model` (the fixture's shape unless changed). */
async function adapterZip(path: string, model: ModelConfig): Promise<string> {
  await writeFile(path, await zipPeftAdapter(exportPeftAdapter(initLoraAdapter(model, LORA, 5), model, FIXTURE_MODEL)));
  return path;
}

const storeRow = (page: Page, store: string) => page.locator('table.limits').getByRole('row', { name: new RegExp(`^${store}\\b`) });

async function saved(download: Download, path: string): Promise<Uint8Array> {
  await download.saveAs(path);
  return new Uint8Array(await readFile(path));
}

test.describe('Library page', () => {
  test('lists models, data sets and adapters with their sizes, exports a PEFT adapter, and deletes with the usage dropping', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, { name: 'Library spec', model: { source: FIXTURE_MODEL, revision: 'main' }, tasks: [], steps: 10 }, 'if-absent');

    // What a user would have stored: a model from the Hub, a task file, and an adapter.
    await page.goto('/#/model');
    await page.getByLabel('Hub model id').fill(FIXTURE_MODEL);
    await page.getByLabel('Revision').fill('main');
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 60_000 });
    await importTaskFiles(page, [FPB_FILE]);

    await page.goto('/#/library');
    const importAdapter = page.getByLabel('Import PEFT adapter');
    // An adapter made for another shape of model is refused, naming the file and tensor at fault.
    const wider = { ...(await fixtureConfig()), hiddenSize: 128 };
    await importAdapter.setInputFiles(await adapterZip(testInfo.outputPath('wider-peft.zip'), wider));
    await expect(page.getByRole('alert')).toContainText(/The adapter was not imported: adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 128\]; this model needs \[4, 64\]/);
    await importAdapter.setInputFiles(await adapterZip(testInfo.outputPath('my-adapter-peft.zip'), await fixtureConfig()));
    await expect(page.getByRole('status').filter({ hasText: 'Imported imported/my-adapter' })).toContainText(`every tensor fits ${FIXTURE_MODEL}`);

    // Sizes: the model is every file it stored, the data set its file, the adapter its zip.
    const modelBytes = (await Promise.all(MODEL_FILES.map(async (file) => (await stat(join(FIXTURE_MODEL_DIR, file))).size))).reduce((a, b) => a + b, 0);
    const modelRow = page.getByRole('region', { name: 'Models' }).getByRole('row', { name: new RegExp(`${FIXTURE_MODEL}@main`) });
    await expect(modelRow.getByRole('cell').nth(0)).toHaveText(String(MODEL_FILES.length));
    await expect(modelRow.getByRole('cell').nth(1)).toHaveText(formatBytes(modelBytes));
    const fileRow = page.getByRole('region', { name: 'Data sets' }).getByRole('row', { name: /Sentences_50Agree\.txt/ });
    await expect(fileRow).toContainText('4,846');
    await expect(fileRow).toContainText(formatBytes((await stat(FPB_FILE.path)).size));
    const adapterRow = page.getByRole('region', { name: 'Adapters' }).getByRole('row', { name: /imported\/my-adapter/ });
    await expect(adapterRow).toContainText(FIXTURE_MODEL);
    await expect(adapterRow.getByRole('cell').nth(1)).toHaveText('4');
    await expect(storeRow(page, 'models')).toContainText(formatBytes(modelBytes));
    await page.screenshot({ path: testInfo.outputPath('library.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('library-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // Export: a PEFT zip named <run>-<name>-peft.zip holding PEFT's two files, with the right keys and shapes.
    const zipDownload = page.waitForEvent('download');
    await adapterRow.getByRole('button', { name: 'Download PEFT zip' }).click();
    const zip = await zipDownload;
    expect(zip.suggestedFilename()).toBe('imported-my-adapter-peft.zip');
    const entries = unzipSync(await saved(zip, testInfo.outputPath(zip.suggestedFilename())));
    expect(Object.keys(entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const config = JSON.parse(new TextDecoder().decode(entries['adapter_config.json'])) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: FIXTURE_MODEL });
    const header = await readSafetensorsHeader(new Blob([entries['adapter_model.safetensors']! as Uint8Array<ArrayBuffer>]), 'adapter_model.safetensors');
    const expected = [0, 1, 2, 3].flatMap((layer) =>
      ['q_proj', 'v_proj'].flatMap((module) => [
        [`base_model.model.model.layers.${layer}.self_attn.${module}.lora_A.weight`, '4,64'],
        [`base_model.model.model.layers.${layer}.self_attn.${module}.lora_B.weight`, '64,4'],
      ]),
    );
    expect([...header.tensors.values()].map((tensor) => [tensor.name, tensor.shape.join(',')]).sort()).toEqual(expected.sort());
    expect(header.metadata).toEqual({ format: 'pt' });

    // ... and the two files on their own.
    await adapterRow.getByText('Separate files').click();
    const configDownload = page.waitForEvent('download');
    await adapterRow.getByRole('button', { name: 'Download adapter_config.json' }).click();
    const configFile = await configDownload;
    expect(configFile.suggestedFilename()).toBe('adapter_config.json');
    expect(JSON.parse(new TextDecoder().decode(await saved(configFile, testInfo.outputPath('adapter_config.json'))))).toEqual(config);
    const weightsDownload = page.waitForEvent('download');
    await adapterRow.getByRole('button', { name: 'Download adapter_model.safetensors' }).click();
    const weightsFile = await weightsDownload;
    expect(weightsFile.suggestedFilename()).toBe('adapter_model.safetensors');
    expect(await saved(weightsFile, testInfo.outputPath('adapter_model.safetensors'))).toEqual(entries['adapter_model.safetensors']);

    // Delete asks first; Cancel keeps the item.
    await adapterRow.getByRole('button', { name: 'Delete' }).click();
    await adapterRow.getByRole('group', { name: 'Delete imported/my-adapter?' }).getByRole('button', { name: 'Cancel' }).click();
    await expect(adapterRow).toBeVisible();
    await expect(storeRow(page, 'adapters')).toContainText('1 items');
    await adapterRow.getByRole('button', { name: 'Delete' }).click();
    await adapterRow.getByRole('button', { name: 'Yes, delete' }).click();
    await expect(adapterRow).toHaveCount(0);
    await expect(storeRow(page, 'adapters')).toHaveText(/0 items, 0 B/);

    // Deleting the model removes every manifest and chunk of it: the models store is empty again.
    await modelRow.getByRole('button', { name: 'Delete' }).click();
    await expect(modelRow.getByRole('group')).toContainText('The recipe uses it');
    await modelRow.getByRole('button', { name: 'Yes, delete' }).click();
    await expect(modelRow).toHaveCount(0);
    await expect(storeRow(page, 'models')).toHaveText(/0 items, 0 B/);
    await expect(page.getByRole('region', { name: 'Models' })).toContainText('No models stored.');
    // ... and the Model page no longer shows it as loaded.
    await page.getByRole('navigation', { name: 'Studio' }).getByRole('link', { name: 'Model', exact: true }).click();
    await expect(page.getByLabel('Hub model id')).toBeVisible();
    await expect(page.getByTestId('model-card')).toHaveCount(0);
    await page.getByRole('navigation', { name: 'Studio' }).getByRole('link', { name: 'Library', exact: true }).click();

    await fileRow.getByRole('button', { name: 'Delete' }).click();
    await fileRow.getByRole('button', { name: 'Yes, delete' }).click();
    await expect(fileRow).toHaveCount(0);
    expect(unexpected(errors)).toEqual([]);
  });

  test('refuses what is not a PEFT adapter or a valid recipe, naming the file, and keeps the current recipe', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    const recipe = { name: 'Kept recipe', model: { source: FIXTURE_MODEL, revision: 'main' }, tasks: [], steps: 10 };
    await seedRecipe(page, recipe, 'if-absent');
    await page.goto('/#/library');

    const importAdapter = page.getByLabel('Import PEFT adapter');
    const notes = testInfo.outputPath('notes.txt');
    await writeFile(notes, 'not an adapter');
    await importAdapter.setInputFiles(notes);
    await expect(page.getByRole('alert')).toContainText('notes.txt: is not a .zip');
    const broken = testInfo.outputPath('broken.zip');
    await writeFile(broken, 'PK not really');
    await importAdapter.setInputFiles(broken);
    await expect(page.getByRole('alert')).toContainText('broken.zip is not a readable zip');
    // The two files, with a config whose rank the weights do not have (the model is not stored: checked on their own).
    const files = exportPeftAdapter(initLoraAdapter(await fixtureConfig(), LORA, 1), await fixtureConfig(), FIXTURE_MODEL);
    await writeFile(testInfo.outputPath('adapter_config.json'), files.config.replace('"r": 4', '"r": 8'));
    await writeFile(testInfo.outputPath('adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
    await importAdapter.setInputFiles([testInfo.outputPath('adapter_config.json'), testInfo.outputPath('adapter_model.safetensors')]);
    await expect(page.getByRole('alert')).toContainText(/adapter_model\.safetensors: tensor ".*lora_A\.weight" has shape \[4, 64\]; with r=8/);
    await expect(page.getByRole('region', { name: 'Adapters' })).toContainText('No adapters yet.');

    // A recipe with problems: each listed with its path, and nothing changes.
    const importRecipe = page.getByLabel('Import recipe.json');
    const bad = testInfo.outputPath('recipe.json');
    await writeFile(bad, JSON.stringify({ model: { source: FIXTURE_MODEL }, tasks: [{ name: 'a', source: { file: 'a.csv' }, format: 'poetry' }], lora: { r: 0 } }));
    await importRecipe.setInputFiles(bad);
    const problems = page.getByRole('alert').filter({ hasText: 'The recipe was not loaded' });
    await expect(problems).toContainText('Your current recipe is kept.');
    await expect(problems.getByRole('listitem').filter({ hasText: 'tasks[0].format' })).toContainText('must be one of');
    await expect(problems.getByRole('listitem').filter({ hasText: 'lora.r' })).toBeVisible();
    expect(JSON.parse((await page.evaluate((key) => localStorage.getItem(key), RECIPE_KEY))!)).toMatchObject({ name: 'Kept recipe' });

    // A good one replaces the recipe.
    const good = testInfo.outputPath('good-recipe.json');
    const task = { name: 'phrases', source: { file: 'Sentences_50Agree.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'accuracy' };
    await writeFile(good, JSON.stringify({ ...recipe, name: 'Imported recipe', tasks: [task], steps: 20 }));
    await importRecipe.setInputFiles(good);
    await expect(page.getByRole('status').filter({ hasText: 'Loaded “Imported recipe” with 1 task:' })).toBeVisible();
    expect(JSON.parse((await page.evaluate((key) => localStorage.getItem(key), RECIPE_KEY))!)).toMatchObject({ name: 'Imported recipe', steps: 20 });
    expect(unexpected(errors)).toEqual([]);
  });
});
