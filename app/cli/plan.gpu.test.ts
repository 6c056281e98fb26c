import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { prequantizedFolder } from '../../test/prequantized-folder.ts';
import { fixtureTask } from '../../test/tasks.ts';
import { startHubServer } from '../../test/hub-server.ts';
import { parseModelConfig } from '../model/config.ts';
import { modelWeightBytes } from '../model/memory.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');
const MODEL = fixturePath('models/aidreams260K');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-plan-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function writeRecipe(name: string, source: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      model: { source },
      tasks: [fixtureTask('fpb', { max_examples: 16 })],
      lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
      batch_size: 2,
      max_length: 64,
      steps: 2,
      ...overrides,
    }),
  );
  return path;
}

interface PlanJson {
  parts: { what: string; bytes: number }[];
  total_bytes: number;
  budget_bytes: number | null;
  fits: boolean;
  advice: string[];
}

describe('cocktail plan', { timeout: 120_000 }, () => {
  it('prints the estimate part by part as JSON and says it fits, exit code 0', async () => {
    const recipe = await writeRecipe('fits', MODEL);
    const { stdout } = await run(process.execPath, [BIN, 'plan', '--recipe', recipe, '--gpu-memory', String(2 ** 30), '--json']);
    const plan = JSON.parse(stdout) as PlanJson;
    expect(plan.fits).toBe(true);
    expect(plan.budget_bytes).toBe(2 ** 30);
    expect(plan.total_bytes).toBe(plan.parts.reduce((sum, part) => sum + part.bytes, 0));
    // The fixture is stored in f32: 260K parameters at 4 bytes, counted from its config here independently.
    const config = parseModelConfig(JSON.parse(await readFile(join(MODEL, 'config.json'), 'utf8')));
    expect(plan.parts[0]!.bytes).toBe(modelWeightBytes(config, 'f32', { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 }));
    expect(plan.parts.map((part) => part.what).join('\n')).toMatch(/evaluation graph/);
  });

  it('says what it needs, what there is and what would fit when over the memory given, exit code 1', async () => {
    const recipe = await writeRecipe('too-big', MODEL, { batch_size: 16, max_length: 512 });
    const failure = (await run(process.execPath, [BIN, 'plan', '--recipe', recipe, '--gpu-memory', String(64 * 2 ** 20), '--json']).catch((error: unknown) => error)) as { code: number; stdout: string };
    expect(failure.code).toBe(1);
    const plan = JSON.parse(failure.stdout) as PlanJson;
    expect(plan.fits).toBe(false);
    expect(plan.advice.join(' ')).toMatch(/needs about .* over the budget of 64\.0 MiB\. To fit: turn on recomputation.* Would fit: batch_size \d+, max_length \d+, recompute on/);
  });

  it('plans and trains a GPTQ checkpoint whose recipe leaves its weights out: int4 in the group its config.json gives; other weights are refused', async () => {
    const folder = join(dir, 'tiny-gptq');
    await mkdir(folder);
    for (const file of await prequantizedFolder({ quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true })) await writeFile(join(folder, file.name), new Uint8Array(await file.arrayBuffer()));
    const recipe = await writeRecipe('gptq', folder, { steps: 1 });
    const plan = JSON.parse((await run(process.execPath, [BIN, 'plan', '--recipe', recipe, '--json'])).stdout) as PlanJson & { shape: { weight_dtype: string }; quantization: { weights: string } };
    expect(plan.shape.weight_dtype).toBe('int4');
    expect(plan.quantization.weights).toMatch(/int4.*group 32/);

    const { stdout } = await run(process.execPath, [BIN, 'train', '--recipe', recipe, '--out', join(dir, 'gptq-run'), '--json'], { maxBuffer: 16 * 2 ** 20 });
    const steps = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; step?: number; loss?: number }).filter((event) => event.event === 'step');
    expect(steps.map((event) => event.step)).toEqual([1]);
    expect(Number.isFinite(steps[0]!.loss)).toBe(true);

    const bf16 = await writeRecipe('gptq-bf16', folder, { model: { source: folder, dtype: 'bf16' } });
    const refused = (await run(process.execPath, [BIN, 'plan', '--recipe', bf16]).catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/tiny-gptq\/config\.json: a gptq int4 checkpoint \(group 32\), recipe model: dtype "bf16" was asked of a gptq int4 checkpoint, whose projections load as int4 \(group 32\); ask for "int4" or leave the dtype out/);
  });

  it('train refuses a recipe that cannot fit before downloading anything but config.json', async () => {
    const server = await startHubServer({ 'aidreams/aidreams260K': MODEL });
    const cache = await mkdtemp(join(tmpdir(), 'cocktail-cache-'));
    try {
      const recipe = await writeRecipe('hub-too-big', 'aidreams/aidreams260K', { batch_size: 16, max_length: 512 });
      const env = { ...process.env, HF_ENDPOINT: server.endpoint, COCKTAIL_CACHE: cache };
      const failure = (await run(process.execPath, [BIN, 'train', '--recipe', recipe, '--out', join(dir, 'run'), '--gpu-memory', String(64 * 2 ** 20)], { env }).catch((error: unknown) => error)) as { code: number; stderr: string };
      expect(failure.code).toBe(1);
      expect(failure.stderr).toMatch(/aidreams\/aidreams260K with this recipe does not fit this GPU: needs about [\d.]+ MiB, .* over the budget of 64\.0 MiB\. To fit: .*\[PLAN_DOES_NOT_FIT\]/s);
      expect(server.requests.map((request) => request.split(' ')[1])).toEqual(['/aidreams/aidreams260K/resolve/main/config.json']);
    } finally {
      await server.close();
      await rm(cache, { recursive: true });
    }
  });
});
