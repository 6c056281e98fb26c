import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { initLoraAdapter, loraPairKey } from '../model/lora.ts';
import { openFileStorage } from '../store/fs.ts';
import { checkpointKey, listCheckpoints } from '../train/checkpoint.ts';
import { exportPeftAdapter, importPeftAdapter } from '../train/peft.ts';
import { LOCK_FILE } from './run-folder.ts';

const execute = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

type Event = Record<string, unknown>;
interface Outcome {
  code: number;
  events: Event[];
  stderr: string;
}

const parseEvents = (stdout: string): Event[] => stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Event);

/** Runs `cocktail train --json` and parses its events, whatever its exit code. */
async function train(args: string[]): Promise<Outcome> {
  const result = await execute(process.execPath, [BIN, 'train', ...args, '--json'], { maxBuffer: 16 * 2 ** 20 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  return { code: result.code, events: parseEvents(result.stdout), stderr: result.stderr };
}

/**
 * The 6-step recipe trained whole, uninterrupted, into `out`: the lock test's first process is such a run
 * (the recipe's file name, its run id, seeds nothing), and the crash test compares a resumed run with it, so
 * it is trained once; the crash test trains it itself when it runs without the lock test.
 */
let uninterruptedSixSteps: Promise<{ outcome: Outcome; out: string }> | undefined;

let dir: string;
let config: ModelConfig;
const recipe = (overrides: Record<string, unknown> = {}) => ({
  model: { source: fixturePath('models/aidreams260K') },
  tasks: [{ name: 'alpaca', source: { file: fixturePath('datasets/alpaca/alpaca_en_demo.json') }, format: 'instruction', max_examples: 16 }],
  lora: { r: 2, alpha: 4, targets: ['q_proj', 'k_proj'] },
  batch_size: 2,
  max_length: 128,
  steps: 3,
  eval_every: 1000,
  eval_examples: 2,
  eval_max_new_tokens: 2,
  checkpoint_every: 1,
  seed: 5,
  ...overrides,
});
const writeRecipe = async (name: string, overrides: Record<string, unknown> = {}) => {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(recipe(overrides)));
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-run-folder-'));
  config = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cocktail train keeps what a run folder holds', { timeout: 600_000 }, () => {
  it('refuses a folder holding the run without --resume, says when there is nothing to resume, falls back past a corrupt checkpoint, restarts only when asked', async () => {
    const recipePath = await writeRecipe('kept');
    const out = join(dir, 'kept-run');
    const first = await train(['--recipe', recipePath, '--out', out]);
    expect(first.code).toBe(0);
    expect(first.events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([1, 2, 3]);

    const again = await train(['--recipe', recipePath, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.events.at(-1)).toMatchObject({ event: 'error', code: 'RUN_EXISTS', message: expect.stringMatching(/already holds run "kept" with a checkpoint at step 3 of 3\. Continue it with --resume, or start it over with --restart/) });

    const wrongId = await train(['--recipe', recipePath, '--out', out, '--run-id', 'other', '--resume']);
    expect(wrongId.events.at(-1)).toMatchObject({ event: 'error', code: 'RUN_NOTHING_TO_RESUME', message: expect.stringMatching(/holds no checkpoint of run "other" \(it holds checkpoints of "kept": pass that --run-id\)/) });
    expect(wrongId.events.some((e) => e.event === 'step')).toBe(false);

    // Random bytes in the newest checkpoint's tensors: refused by path, the one before (step 2) is resumed.
    const storage = await openFileStorage(join(out, 'state'));
    expect((await listCheckpoints(storage, 'kept')).map((item) => item.key)).toEqual([checkpointKey('kept', 3), checkpointKey('kept', 2)]);
    const latest = join(out, 'state', 'checkpoints', 'kept%400000000003.item');
    const bytes = new Uint8Array(await readFile(latest));
    for (let i = bytes.length - 64; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    await writeFile(latest, bytes);
    const resumed = await train(['--recipe', recipePath, '--out', out, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.events.find((e) => e.event === 'checkpoint_refused')).toMatchObject({ location: latest, step: 3, reason: expect.stringMatching(/do not match their checksum/) });
    expect(resumed.events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([3]);
    // The step trained again gives the loss it gave the first time: the fallback continued the same run.
    expect(resumed.events.find((e) => e.event === 'step')!.loss).toBe(first.events.find((e) => e.event === 'step' && e.step === 3)!.loss);

    const restarted = await train(['--recipe', recipePath, '--out', out, '--restart']);
    expect(restarted.code).toBe(0);
    expect(restarted.events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([1, 2, 3]);
  });

  it('stops a second process training into the same folder with the lock', async () => {
    const recipePath = await writeRecipe('locked', { steps: 6 });
    const out = join(dir, 'locked-run');
    const firstProcess = spawn(process.execPath, [BIN, 'train', '--recipe', recipePath, '--out', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    firstProcess.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    firstProcess.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const firstRun = new Promise<Outcome>((done) => firstProcess.on('close', (code) => done({ code: code ?? -1, events: parseEvents(stdout), stderr })));
    uninterruptedSixSteps = firstRun.then((outcome) => ({ outcome, out }));
    const firstDone = firstRun.then((outcome) => outcome.code);
    while (!existsSync(join(out, LOCK_FILE))) await new Promise((wait) => setTimeout(wait, 50));
    const second = await train(['--recipe', recipePath, '--out', out, '--restart']);
    expect(second.code).toBe(1);
    expect(second.events.at(-1)).toMatchObject({ event: 'error', code: 'RUN_LOCKED', message: expect.stringContaining(`pid ${firstProcess.pid}`) });
    expect(await firstDone).toBe(0);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    expect(await readdir(join(out, 'adapter'))).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('a run whose process died mid-way (SIGKILL after its step-2 checkpoint) resumes with --resume past the stale lock, and trains the steps left as an uninterrupted run does', async () => {
    const recipePath = await writeRecipe('crashed', { steps: 6 });
    uninterruptedSixSteps ??= train(['--recipe', recipePath, '--out', join(dir, 'uninterrupted-run')]).then((outcome) => ({ outcome, out: join(dir, 'uninterrupted-run') }));
    const { outcome: whole, out: wholeOut } = await uninterruptedSixSteps;
    expect(whole.code).toBe(0);
    expect(whole.events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);

    const out = join(dir, 'crashed-run');
    const victim = spawn(process.execPath, [BIN, 'train', '--recipe', recipePath, '--out', out, '--json'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const died = new Promise<NodeJS.Signals | null>((done) => victim.on('exit', (_, signal) => done(signal)));
    const second = join(out, 'state', 'checkpoints', 'crashed%400000000002.item');
    while (!existsSync(second) && victim.exitCode === null) await new Promise((wait) => setTimeout(wait, 20));
    victim.kill('SIGKILL');
    expect(await died).toBe('SIGKILL');
    expect(existsSync(join(out, LOCK_FILE))).toBe(true);
    const storage = await openFileStorage(join(out, 'state'));
    const kept = (await listCheckpoints(storage, 'crashed')).map((item) => (item.meta as { step: number }).step);
    expect(kept.length).toBeGreaterThan(0);
    expect(Math.max(...kept)).toBeLessThan(6);

    const resumed = await train(['--recipe', recipePath, '--out', out, '--resume']);
    expect(resumed.code).toBe(0);
    const steps = resumed.events.filter((e) => e.event === 'step');
    expect(steps.map((e) => e.step)).toEqual(Array.from({ length: 6 - Math.max(...kept) }, (_, i) => Math.max(...kept) + 1 + i));
    const uninterrupted = new Map(whole.events.filter((e) => e.event === 'step').map((e) => [e.step, e.loss]));
    for (const step of steps) expect(step.loss).toBe(uninterrupted.get(step.step));
    expect(await readFile(join(out, 'adapter', 'adapter_model.safetensors'))).toEqual(await readFile(join(wholeOut, 'adapter', 'adapter_model.safetensors')));
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('nonfinite: stop keeps the last good step’s adapter and checkpoint; a run whose every step was skipped fails with a summary', async () => {
    // A starting adapter with huge (finite) B on q and k: attention scores overflow, so every step is non-finite.
    const start = initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'k_proj'], rslora: false }, 9);
    for (const pair of start.pairs.values()) pair.b.fill(1e30);
    const startDir = join(dir, 'huge-adapter');
    await mkdir(startDir, { recursive: true });
    const files = exportPeftAdapter(start, config, 'aidreams260K');
    await writeFile(join(startDir, 'adapter_config.json'), files.config);
    await writeFile(join(startDir, 'adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
    const lora = { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'k_proj'], init_from: startDir };

    const out = join(dir, 'stopped-run');
    const stopped = await train(['--recipe', await writeRecipe('stopped', { lora, nonfinite: 'stop' }), '--out', out]);
    expect(stopped.code).toBe(1);
    expect(stopped.events.at(-1)).toMatchObject({ event: 'error', code: 'TRAIN_NONFINITE', message: expect.stringMatching(/step 1 produced a non-finite loss[\s\S]*checkpoint and adapter of step 0 were saved/) });
    const saved = await importPeftAdapter({ config: await readFile(join(out, 'adapter', 'adapter_config.json'), 'utf8'), weights: new Blob([await readFile(join(out, 'adapter', 'adapter_model.safetensors'))]) }, config);
    expect(Array.from(saved.pairs.get(loraPairKey(0, 'q_proj'))!.b)).toEqual(Array.from(start.pairs.get(loraPairKey(0, 'q_proj'))!.b));
    const storage = await openFileStorage(join(out, 'state'));
    expect((await listCheckpoints(storage, 'stopped')).map((item) => (item.meta as { step: number }).step)).toEqual([0]);

    const skipped = await train(['--recipe', await writeRecipe('skipped', { lora, nonfinite: 'skip', steps: 2 }), '--out', join(dir, 'skipped-run')]);
    expect(skipped.code).toBe(1);
    expect(skipped.events.filter((e) => e.event === 'step').map((e) => e.skipped)).toEqual([true, true]);
    expect(skipped.events.at(-1)).toMatchObject({ event: 'error', code: 'TRAIN_ALL_SKIPPED', message: expect.stringMatching(/every one of the run's 2 steps was skipped[\s\S]*Lower optimizer\.lr/) });
    expect(skipped.events.some((e) => e.event === 'eval')).toBe(false);
  });

  it('lists the rows it dropped with their lines and reasons', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => JSON.stringify({ instruction: `Say the number ${i}.`, output: `${i}` }));
    rows.splice(3, 0, '{"instruction": "cut', JSON.stringify({ instruction: 'No answer here.' }));
    const file = join(dir, 'some-bad.jsonl');
    await writeFile(file, `${rows.join('\n')}\n`);
    const recipePath = join(dir, 'dropped.json');
    await writeFile(recipePath, JSON.stringify({ ...recipe({ steps: 1 }), tasks: [{ name: 'numbers', source: { file }, format: 'instruction' }] }));
    const outcome = await train(['--recipe', recipePath, '--out', join(dir, 'dropped-run')]);
    expect(outcome.code).toBe(0);
    expect(outcome.events.find((e) => e.event === 'task')).toMatchObject({ rows: 14, dropped: 2 });
    const dropped = outcome.events.filter((e) => e.event === 'dropped');
    expect(dropped.map((e) => [e.code, e.lines])).toEqual(
      expect.arrayContaining([
        ['BAD_JSON', [4]],
        ['MISSING_FIELD', [5]],
      ]),
    );
    expect(dropped.every((e) => e.file === file && Array.isArray(e.messages) && (e.messages as string[]).length > 0)).toBe(true);
  });
});
