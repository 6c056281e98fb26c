import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { parseModelConfig } from '../app/model/config.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { exportPeftAdapter } from '../app/train/peft.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL, FIXTURE_MODEL_DIR } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, seedRecipe, test, trainRecipe } from './studio.ts';

const RECIPE = {
  name: 'Phrases for the cluster',
  model: { source: FIXTURE_MODEL, revision: 'main' },
  tasks: [PHRASES_TASK],
  mixture: { strategy: 'proportional', per: 'example' },
  lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  grad_accum: 1,
  max_length: 128,
  packing: false,
  train_on_prompts: false,
  steps: 2,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 100,
  eval_examples: 4,
  eval_max_new_tokens: 4,
  checkpoint_every: 2,
  seed: 11,
};

/** A zipped output_dir as Axolotl, LLaMA-Factory or TRL leave it: checkpoint-N folders, Trainer state, keys of a newer PEFT. */
async function outputDirZip(path: string): Promise<string> {
  const model = parseModelConfig(JSON.parse(await readFile(join(FIXTURE_MODEL_DIR, 'config.json'), 'utf8')));
  const entries: Record<string, Uint8Array> = {};
  for (const step of [1, 2]) {
    const adapter = initLoraAdapter(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, step);
    for (const pair of adapter.pairs.values()) pair.b.forEach((_, i) => (pair.b[i] = Math.sin(i + step) * 0.05));
    const files = exportPeftAdapter(adapter, model, FIXTURE_MODEL);
    const config = { ...(JSON.parse(files.config) as object), lora_bias: false, exclude_modules: null, peft_version: '0.17.1' };
    entries[`output/checkpoint-${step}/adapter_config.json`] = new TextEncoder().encode(JSON.stringify(config));
    entries[`output/checkpoint-${step}/adapter_model.safetensors`] = new Uint8Array(await files.weights.arrayBuffer());
    entries[`output/checkpoint-${step}/trainer_state.json`] = new TextEncoder().encode(JSON.stringify({ global_step: step }));
  }
  await writeFile(path, zipSync(entries));
  return path;
}

test.describe('Take a recipe to a GPU cluster and bring the adapter back', () => {
  test('the Recipes page downloads the recipe for TRL as a zip and lists what was not carried over', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(300_000);
    const errors = watchConsole(page);
    await seedRecipe(page, RECIPE, 'always');
    await importTaskFiles(page, [FPB_FILE]);
    await page.goto('/#/recipes');
    const panel = page.getByRole('region', { name: 'Take it to a GPU cluster' });
    await panel.getByLabel('Engine').selectOption({ label: 'TRL (with accelerate)' });
    await panel.getByLabel('Mixture').selectOption('premixed');
    await panel.getByLabel('GPUs per node').fill('2');
    const download = page.waitForEvent('download', { timeout: 120_000 });
    await panel.getByRole('button', { name: 'Download for TRL (with accelerate)' }).click();
    const zip = await download;
    expect(zip.suggestedFilename()).toBe('Phrases-for-the-cluster-trl-premixed.zip');
    await zip.saveAs(testInfo.outputPath('export.zip'));
    const entries = unzipSync(new Uint8Array(await readFile(testInfo.outputPath('export.zip'))));
    const folder = 'Phrases-for-the-cluster-trl-premixed';
    for (const file of ['train.py', 'sft_config.json', 'lora_config.json', 'run.json', 'run.sh', 'ds_zero2.json', 'README.md', 'MAPPING.md', 'recipe.json', 'data/premixed.jsonl', 'sources/phrases/Sentences_50Agree.txt']) {
      expect(Object.keys(entries), file).toContain(`${folder}/${file}`);
    }
    const sft = JSON.parse(new TextDecoder().decode(entries[`${folder}/sft_config.json`])) as Record<string, unknown>;
    expect(sft).toMatchObject({ per_device_train_batch_size: 1, gradient_accumulation_steps: 1, max_steps: 2, deepspeed: 'ds_zero2.json' });
    expect(new TextDecoder().decode(entries[`${folder}/data/premixed.jsonl`]).trim().split('\n')).toHaveLength(2 * 2);
    const result = panel.getByRole('status', { name: 'Export result' });
    await expect(result).toContainText('Phrases-for-the-cluster-trl-premixed.zip');
    await expect(result).toContainText('sources/phrases/Sentences_50Agree.txt');
    await expect(result.getByRole('listitem').filter({ hasText: 'lora.dropout' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('recipes-export.png'), fullPage: true });
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });

  test('an output_dir with checkpoint-N folders imports in the Library, evaluates, and compares with the browser-trained run', async ({ page, hub: _hub }, testInfo) => {
    test.setTimeout(600_000);
    const errors = watchConsole(page);
    await trainRecipe(page, RECIPE, [FPB_FILE]);

    await page.goto('/#/library');
    await page.getByLabel('Import PEFT adapter').setInputFiles(await outputDirZip(testInfo.outputPath('output.zip')));
    await expect(page.getByRole('status').filter({ hasText: 'Imported imported/output' })).toBeVisible();

    await page.goto('/#/evaluate');
    await page.getByLabel('Model to evaluate').selectOption({ label: 'Adapter imported/output' });
    await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Evaluated Adapter imported/output' })).toBeVisible({ timeout: 180_000 });

    const compare = page.getByRole('region', { name: 'Compare runs' });
    await compare.getByRole('checkbox', { name: new RegExp(`^${RECIPE.name} — final`) }).setChecked(true);
    await compare.getByRole('checkbox', { name: /^Adapter imported\/output —/ }).setChecked(true);
    const table = compare.getByRole('table');
    await expect(table.getByRole('columnheader')).toContainText([RECIPE.name, 'Adapter imported/output']);
    await expect(table.getByRole('row', { name: /^phrases/ }).getByRole('cell')).toHaveCount(2);
    await page.screenshot({ path: testInfo.outputPath('evaluate-imported.png'), fullPage: true });
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
