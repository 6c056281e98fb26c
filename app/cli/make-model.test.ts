import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig } from '../model/config.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { locateWeights, readWeightFloat64 } from '../model/weights.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

describe('cocktail make-model', { timeout: 60_000 }, () => {
  it('writes a random model in HF layout that loads with its config, seeded and initialised like transformers', async () => {
    const out = await mkdtemp(join(tmpdir(), 'cocktail-model-'));
    const config = fixturePath('models/aidreams260K/config.json');
    const { stdout } = await run(process.execPath, [BIN, 'make-model', '--config', config, '--out', out, '--dtype', 'bf16', '--seed', '3']);
    expect(stdout).toMatch(/LlamaForCausalLM, 0\.2M parameters in bf16/);
    const parsed = parseModelConfig(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')));
    const weights = await locateWeights(await filesFromDirectory(out), parsed);
    expect(weights.dtype).toBe('BF16');
    const q = await readWeightFloat64(weights.refs.get('model.layers.0.self_attn.q_proj.weight')!);
    const mean = q.reduce((a, b) => a + b, 0) / q.length;
    const std = Math.sqrt(q.reduce((a, b) => a + (b - mean) ** 2, 0) / q.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Array.from(await readWeightFloat64(weights.refs.get('model.norm.weight')!)).every((v) => v === 1)).toBe(true);

    const again = await mkdtemp(join(tmpdir(), 'cocktail-model-'));
    await run(process.execPath, [BIN, 'make-model', '--config', config, '--out', again, '--dtype', 'bf16', '--seed', '3']);
    expect(await readFile(join(again, 'model.safetensors'))).toEqual(await readFile(join(out, 'model.safetensors')));
    await Promise.all([rm(out, { recursive: true }), rm(again, { recursive: true })]);
  });

  it('names the missing option', async () => {
    const failure = await run(process.execPath, [BIN, 'make-model', '--out', '/tmp/x']).catch((error: { stderr: string }) => error);
    expect((failure as { stderr: string }).stderr).toContain('make-model needs --config');
  });
});
