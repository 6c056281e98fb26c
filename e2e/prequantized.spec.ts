import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig } from '../app/model/config.ts';
import { filesFromDirectory } from '../app/model/node-source.ts';
import { referenceLogits, type ReferenceWeights } from '../app/model/reference.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import { prequantizedFolderWithReference } from '../test/prequantized-folder.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL, FIXTURE_MODEL_DIR } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, PHRASES_TASK, RECIPE_KEY, seedRecipe, test } from './studio.ts';

/** AutoGPTQ's quantization_config of a 4-bit, group-32, symmetric checkpoint without act-order. */
const GPTQ = { quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true };
/** AutoAWQ's GEMM checkpoint: 4-bit, group 64, with zero points. */
const AWQ = { quant_method: 'awq', bits: 4, group_size: 64, version: 'gemm', zero_point: true };

/** A three-step LoRA run of one small task; it starts on the fixture model, and the Model page makes it the GPTQ folder's. */
const RECIPE = {
  name: 'GPTQ spec',
  model: { source: FIXTURE_MODEL, revision: 'main', dtype: 'f16' },
  tasks: [{ ...PHRASES_TASK, max_examples: 8 }],
  mixture: { strategy: 'proportional', per: 'example' },
  lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 1,
  grad_accum: 1,
  max_length: 128,
  packing: false,
  train_on_prompts: false,
  steps: 3,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 3,
  eval_examples: 2,
  eval_max_new_tokens: 2,
  checkpoint_every: 3,
  seed: 3,
};

/**
 * Writes test/prequantized-folder.ts's aidreams260K-shaped int4 checkpoint into `dir`/`name`, a folder the file
 * chooser can pick, and returns the folder and the checkpoint's Float64 reference weights (projections dequantized).
 */
async function writePrequantizedFolder(dir: string, name: string, quantization: Record<string, unknown>): Promise<{ folder: string; reference: ReferenceWeights }> {
  const folder = join(dir, name);
  await mkdir(folder);
  const { files, reference } = await prequantizedFolderWithReference(quantization);
  for (const file of files) await writeFile(join(folder, file.name), new Uint8Array(await file.arrayBuffer()));
  return { folder, reference };
}

/**
 * The text greedy decoding from BOS gives on the Float64 forward of `reference`, decoded as the Playground
 * decodes it. Each step's best logit leads the second by a clear margin, so the studio's float32 forward
 * must pick the same tokens.
 */
async function referenceGreedyText(reference: ReferenceWeights, maxNewTokens: number): Promise<{ text: string; tokens: number }> {
  const tokenizer = await loadTokenizer(await filesFromDirectory(FIXTURE_MODEL_DIR), parseModelConfig(JSON.parse(await readFile(join(FIXTURE_MODEL_DIR, 'config.json'), 'utf8'))));
  const V = reference.config.vocabSize;
  const ids = [tokenizer.bosId!];
  while (ids.length <= maxNewTokens) {
    const row = referenceLogits(reference, ids).subarray((ids.length - 1) * V, ids.length * V);
    const order = [...row.keys()].sort((a, b) => row[b]! - row[a]!);
    expect(row[order[0]!]! - row[order[1]!]!).toBeGreaterThan(1e-3);
    if (tokenizer.eosIds.includes(order[0]!)) break;
    ids.push(order[0]!);
  }
  return { text: tokenizer.decode(ids.slice(1), { skipSpecialTokens: true }), tokens: ids.length - 1 };
}

test('a GPTQ folder opened on the Model page is labelled int4, trains LoRA in the worker and generates with its adapter; an AWQ folder is labelled too', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const errors = watchConsole(page);
  const dir = await mkdtemp(join(tmpdir(), 'cocktail-prequantized-'));
  try {
    await seedRecipe(page, RECIPE, 'once');
    await page.goto('/#/model');

    // AWQ: only its label (training on the two formats takes the same path through the engine).
    await page.getByLabel('Model folder').setInputFiles((await writePrequantizedFolder(dir, 'tiny-awq', AWQ)).folder);
    const card = page.getByTestId('model-card');
    const recipeModel = async () => (JSON.parse((await page.evaluate((key) => localStorage.getItem(key), RECIPE_KEY))!) as { model: unknown }).model;
    await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/tiny-awq', { timeout: 60_000 });
    await expect(card.getByTestId('model-weights')).toHaveText('int4 (AWQ, group 64); embeddings and norms f16');
    expect(await recipeModel()).toEqual({ source: 'local/tiny-awq', revision: 'local', dtype: 'int4', group_size: 64, symmetric: false });

    // A second folder picked with the name field left empty is stored under its own name.

    const gptq = await writePrequantizedFolder(dir, 'tiny-gptq', GPTQ);
    await page.getByLabel('Model folder').setInputFiles(gptq.folder);
    await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/tiny-gptq', { timeout: 60_000 });
    await expect(card.getByTestId('model-weights')).toHaveText('int4 (GPTQ, group 32, symmetric); embeddings and norms f16');
    await expect(card.locator('dt:text-is("Layers") + dd')).toHaveText('4');
    // The planner counts int4 projections in the checkpoint's groups, and the recipe says so: a run requires it.
    await expect(page.getByTestId('plan-prequantized')).toContainText('This GPTQ checkpoint’s projections are int4 in groups of 32');
    await expect(page.getByTestId('plan-verdict')).toContainText(/^Fits/);
    expect(await recipeModel()).toEqual({ source: 'local/tiny-gptq', revision: 'local', dtype: 'int4', group_size: 32, symmetric: true });
    await page.screenshot({ path: testInfo.outputPath('prequantized-model.png'), fullPage: true });

    // Training reads the model back from IndexedDB in the engine worker.
    await importTaskFiles(page, [FPB_FILE]);
    await page.goto('/#/train');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const runStatus = page.getByRole('status').filter({ hasText: 'GPTQ spec:' });
    await expect(runStatus).toContainText(/Completed|Stopped by an error/, { timeout: 120_000 });
    await expect(runStatus).toContainText('Completed: 3 steps.', { timeout: 1 });
    const adapter = page.getByRole('list', { name: 'Exported adapters' }).getByRole('listitem');
    await expect(adapter).toHaveCount(1);
    const adapterKey = (await adapter.locator('code').textContent())!;

    // Every step's loss, as the Library's metrics.csv has it: finite and positive.
    await page.goto('/#/library');
    const run = page.getByRole('region', { name: 'Runs' }).getByRole('row', { name: /GPTQ spec/ });
    const download = page.waitForEvent('download');
    await run.getByRole('button', { name: 'Download metrics.csv' }).click();
    const [header, ...rows] = (await readFile((await (await download).path())!, 'utf8')).trim().split('\r\n');
    const lossColumn = header!.split(',').indexOf('loss');
    expect(rows.map((row) => Number(row.split(',')[0]))).toEqual([1, 2, 3]);
    for (const row of rows) {
      const loss = Number(row.split(',')[lossColumn]);
      expect(Number.isFinite(loss) && loss > 0).toBe(true);
    }

    // The Playground generates with the pre-quantized base and with the adapter just trained on it.
    await page.goto('/#/train');
    await page.getByRole('link', { name: 'Try it in the Playground' }).click();
    await expect(page.getByText('Model: local/tiny-gptq (change it')).toBeVisible();
    await expect(page.getByLabel('Adapter', { exact: true })).toHaveValue(adapterKey);
    await page.getByLabel('Max new tokens').fill('4');
    await page.getByLabel('Temperature').fill('0');
    await page.getByRole('button', { name: 'Generate' }).click();
    // The base pane's greedy text is the Float64 reference's on the dequantized checkpoint: the int4 weights went through IndexedDB and the worker intact.
    const expected = await referenceGreedyText(gptq.reference, 4);
    await expect(page.getByTestId('pane-base-status')).toHaveText(new RegExp(`^Done: ${expected.tokens} tokens?`), { timeout: 60_000 });
    expect(await page.getByTestId('pane-base-text').textContent()).toBe(expected.text);
    await expect(page.getByTestId('pane-adapter-status')).toHaveText(/^Done: [1-4] tokens?/, { timeout: 60_000 });
    await expect(page.getByTestId('pane-adapter')).toContainText(adapterKey);
    await expect(page.getByTestId('pane-adapter-text')).not.toBeEmpty();
    await page.screenshot({ path: testInfo.outputPath('prequantized-playground.png'), fullPage: true });

    // A 16-bit model opened after the checkpoint loads as stored: the int4 settings were the checkpoint's, not a choice.
    await page.goto('/#/model');
    await page.getByLabel('Model folder').setInputFiles(FIXTURE_MODEL_DIR);
    await expect(card.getByRole('heading', { level: 2 })).toHaveText('local/aidreams260K', { timeout: 60_000 });
    expect(await recipeModel()).toEqual({ source: 'local/aidreams260K', revision: 'local' });
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
