import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { startHubServer } from '../../test/hub-server.ts';
import type { GpuInfo } from '../gpu/device.ts';
import { parseModelConfig } from '../model/config.ts';
import { initLoraAdapter, loraPairKey } from '../model/lora.ts';
import { readSafetensorsHeader } from '../model/safetensors.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../train/peft.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

describe('cocktail CLI on a real adapter', () => {
  it('`cocktail info` prints the adapter and the features the engine uses', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'info']);
    expect(stdout).toMatch(/^WebGPU adapter\n {2}vendor {8}\S+/);
    expect(stdout).toMatch(/shader-f16 {7}(yes|no)/);
    expect(stdout).toMatch(/maxStorageBufferBindingSize\s+\d+/);
  });

  it('`cocktail info --json` prints one JSON object with the adapter, features and limits', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'info', '--json']);
    const info = JSON.parse(stdout) as GpuInfo;
    expect(info.adapter.vendor.length).toBeGreaterThan(0);
    expect(info.features).toContain('timestamp-query');
    expect(info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });
});

describe('cocktail CLI arguments', () => {
  it('refuses an unknown command with exit code 2 and the usage', async () => {
    const failure = await run(process.execPath, [BIN, 'frobnicate']).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: cocktail <command>/);
  });

  it('prints a command’s usage for `cocktail <command> --help`, for every command', async () => {
    for (const command of ['info', 'selftest', 'generate', 'train', 'eval', 'merge', 'make-model']) {
      const { stdout } = await run(process.execPath, [BIN, command, '--help']);
      expect(stdout).toMatch(new RegExp(`^cocktail ${command}: .+\n\nusage: cocktail ${command}\\b`));
    }
    expect((await run(process.execPath, [BIN, 'train', '-h'])).stdout).toContain('[--resume | --restart]');
  });

  it('with --json, reports an error as a JSON event on stdout too', async () => {
    const failure = await run(process.execPath, [BIN, 'eval', '--recipe', '/nonexistent/recipe.json', '--json']).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    const { stdout, stderr } = failure as { stdout: string; stderr: string };
    expect(JSON.parse(stdout)).toEqual({ event: 'error', command: 'eval', code: 'RECIPE_NOT_FOUND', message: '/nonexistent/recipe.json: no such recipe file', details: { file: '/nonexistent/recipe.json' } });
    expect(stderr).toContain('RECIPE_NOT_FOUND');
  });

  it('refuses an unknown flag, naming it and the flags the command takes', async () => {
    const failure = await run(process.execPath, [BIN, 'info', '--verbose']).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('unknown argument "--verbose"; info takes --json');
  });
});

describe('cocktail generate', { timeout: 120_000 }, () => {
  const model = fixturePath('models/aidreams260K');
  const greedy = [319, 459, 355, 260, 275, 429, 339, 315];

  it('prints the greedy continuation from BOS as one JSON object with ids and text', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'generate', '--model', model, '--ids', '1', '--max-new-tokens', '40', '--temperature', '0', '--json']);
    const result = JSON.parse(stdout) as { ids: number[]; text: string };
    expect(result.ids).toHaveLength(40);
    expect(result.ids.slice(0, 8)).toEqual(greedy);
    expect(result.text.startsWith('"Echoes of vect')).toBe(true);
  });

  it('applies a PEFT adapter folder (a fresh one changes nothing)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-adapter-'));
    const config = parseModelConfig(JSON.parse(await readFile(join(model, 'config.json'), 'utf8')));
    const files = exportPeftAdapter(initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, 1), config, model);
    await writeFile(join(dir, 'adapter_config.json'), files.config);
    await writeFile(join(dir, 'adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
    const { stdout } = await run(process.execPath, [BIN, 'generate', '--model', model, '--adapter', dir, '--ids', '1', '--max-new-tokens', '8', '--json']);
    expect((JSON.parse(stdout) as { ids: number[] }).ids).toEqual(greedy);
    await rm(dir, { recursive: true });
  });

  it('loads a Hub id from a server in the Hub layout, then again with the server stopped', async () => {
    const server = await startHubServer({ 'aidreams/aidreams260K': model });
    const cache = await mkdtemp(join(tmpdir(), 'cocktail-cache-'));
    const env = { ...process.env, HF_ENDPOINT: server.endpoint, COCKTAIL_CACHE: cache };
    const args = [BIN, 'generate', '--model', 'aidreams/aidreams260K', '--ids', '1', '--max-new-tokens', '8', '--json'];
    const first = JSON.parse((await run(process.execPath, args, { env })).stdout) as { ids: number[] };
    await server.close();
    const second = JSON.parse((await run(process.execPath, args, { env })).stdout) as { ids: number[] };
    expect(first.ids).toEqual(greedy);
    expect(second.ids).toEqual(greedy);
    await rm(cache, { recursive: true });
  });

  it('sends $HF_TOKEN for a gated Hub model, and names what is missing without it', async () => {
    const server = await startHubServer({ 'meta-llama/tiny': model }, { gated: { 'meta-llama/tiny': 'hf_reader' } });
    const cache = await mkdtemp(join(tmpdir(), 'cocktail-cache-'));
    try {
      const env = { ...process.env, HF_ENDPOINT: server.endpoint, COCKTAIL_CACHE: cache };
      const args = [BIN, 'generate', '--model', 'meta-llama/tiny', '--ids', '1', '--max-new-tokens', '8', '--json'];
      await expect(run(process.execPath, args, { env })).rejects.toMatchObject({ stderr: expect.stringMatching(/answered 401: the repository is gated or private and no access token was given/) });
      const { stdout } = await run(process.execPath, args, { env: { ...env, HF_TOKEN: 'hf_reader' } });
      expect((JSON.parse(stdout) as { ids: number[] }).ids).toEqual(greedy);
    } finally {
      await server.close();
      await rm(cache, { recursive: true });
    }
  });

  it('merges an adapter into the base model; a fresh adapter leaves the greedy continuation as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-merge-'));
    const config = parseModelConfig(JSON.parse(await readFile(join(model, 'config.json'), 'utf8')));
    const files = exportPeftAdapter(initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj'], rslora: false }, 1), config, model);
    await writeFile(join(dir, 'adapter.zip'), await zipPeftAdapter(files));
    await run(process.execPath, [BIN, 'merge', '--model', model, '--adapter', join(dir, 'adapter.zip'), '--out', join(dir, 'merged')]);
    const { stdout } = await run(process.execPath, [BIN, 'generate', '--model', join(dir, 'merged'), '--ids', '1', '--max-new-tokens', '8', '--json']);
    expect((JSON.parse(stdout) as { ids: number[] }).ids).toEqual(greedy);
    await rm(dir, { recursive: true });
  });

  it('refuses NaN model weights and an Inf adapter at load, naming the full path and the tensor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-nan-'));
    try {
      const broken = join(dir, 'model');
      await cp(model, broken, { recursive: true });
      const path = join(broken, 'model.safetensors');
      const bytes = new Uint8Array(await readFile(path));
      const header = await readSafetensorsHeader(new Blob([bytes]), path);
      const entry = header.tensors.get('model.layers.2.mlp.up_proj.weight')!;
      new DataView(bytes.buffer).setFloat32(header.dataStart + entry.begin + 4 * 5, Number.NaN, true);
      await writeFile(path, bytes);
      const nan = await run(process.execPath, [BIN, 'generate', '--model', broken, '--ids', '1', '--max-new-tokens', '3', '--json']).catch((error: { code: number; stdout: string }) => error);
      expect(nan).toMatchObject({ code: 1 });
      expect(JSON.parse((nan as { stdout: string }).stdout)).toMatchObject({
        event: 'error',
        code: 'MODEL_WEIGHT_NONFINITE',
        message: expect.stringContaining(`${path}: tensor "model.layers.2.mlp.up_proj.weight" holds NaN at element 5`),
      });

      const config = parseModelConfig(JSON.parse(await readFile(join(model, 'config.json'), 'utf8')));
      const adapter = initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj'], rslora: false }, 1);
      adapter.pairs.get(loraPairKey(1, 'q_proj'))!.b[3] = Number.POSITIVE_INFINITY;
      const files = exportPeftAdapter(adapter, config, model);
      const adapterDir = join(dir, 'adapter');
      await mkdir(adapterDir);
      await writeFile(join(adapterDir, 'adapter_config.json'), files.config);
      await writeFile(join(adapterDir, 'adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
      const inf = await run(process.execPath, [BIN, 'generate', '--model', model, '--adapter', adapterDir, '--ids', '1', '--max-new-tokens', '3', '--json']).catch((error: { stdout: string }) => error);
      expect(JSON.parse((inf as { stdout: string }).stdout)).toMatchObject({
        code: 'ADAPTER_NONFINITE',
        message: expect.stringContaining(`${join(adapterDir, 'adapter_model.safetensors')}: tensor "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight" holds Infinity at element 3`),
      });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('needs exactly one of --prompt and --ids', async () => {
    const failure = await run(process.execPath, [BIN, 'generate', '--model', model]).catch((error: { stderr: string }) => error);
    expect((failure as { stderr: string }).stderr).toContain('generate needs exactly one of --prompt TEXT or --ids 1,2,3');
  });
});
