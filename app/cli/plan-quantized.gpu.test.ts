import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureTask } from '../../test/tasks.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');
const MODEL = fixturePath('models/aidreams260K');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-plan-quantized-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function writeRecipe(name: string, model: Record<string, unknown>): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      model: { source: MODEL, ...model },
      tasks: [fixtureTask('fpb', { max_examples: 16 })],
      lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
      batch_size: 2,
      max_length: 64,
      steps: 2,
    }),
  );
  return path;
}

interface QuantizedPlanJson {
  parts: { what: string; bytes: number }[];
  quantization: { weights: string; bytes: number; sixteen_bit_bytes: number; saved_bytes: number; measured: { rows: number; mean_relative_error: number; projections: unknown[] } };
}

describe('cocktail plan with quantized weights', { timeout: 120_000 }, () => {
  it('shows the memory int8 saves against bf16 and, with --measure, the measured error of every projection', async () => {
    const recipe = await writeRecipe('int8', { dtype: 'int8' });
    const { stdout } = await run(process.execPath, [BIN, 'plan', '--recipe', recipe, '--measure', '--json']);
    const plan = JSON.parse(stdout) as QuantizedPlanJson;
    expect(plan.parts[0]!.what).toBe('frozen weights (int8, bf16 vocabulary tables)');
    expect(plan.quantization.bytes).toBe(plan.parts[0]!.bytes);
    expect(plan.quantization.saved_bytes).toBe(plan.quantization.sixteen_bit_bytes - plan.quantization.bytes);
    expect(plan.quantization.saved_bytes).toBeGreaterThan(0);
    // 4 layers × 7 projections, each within int8's few tenths of a percent.
    expect(plan.quantization.measured.projections).toHaveLength(28);
    expect(plan.quantization.measured.mean_relative_error).toBeGreaterThan(0);
    expect(plan.quantization.measured.mean_relative_error).toBeLessThan(0.02);
  });

  it('refuses int4 on a model whose rows no group size divides, naming the tensor, before loading anything', async () => {
    const recipe = await writeRecipe('int4', { dtype: 'int4', group_size: 32 });
    const failure = await run(process.execPath, [BIN, 'plan', '--recipe', recipe]).catch((error: { stderr: string; code: number }) => error);
    expect((failure as { code: number }).code).not.toBe(0);
    expect((failure as { stderr: string }).stderr).toMatch(/tensor "model\.layers\.0\.mlp\.down_proj\.weight" \[64, 172\] has rows of 172 elements, which int4 group size 32 does not divide/);
  });
});
