import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourTask, HELPER_WORDING, TARGET_WORDING } from '../experiment/test-support.ts';
import { fixturePath } from '../../test/fixtures.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

let dir: string;
let recipePath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-experiment-cli-'));
  // 24 rows per task: 18 to train, 6 to validate.
  await writeFile(join(dir, 'target.jsonl'), colourTask(TARGET_WORDING, 'red', ['Tom', 'Ben']));
  await writeFile(join(dir, 'helper.jsonl'), colourTask(HELPER_WORDING, 'red', ['Tom', 'Ben']));
  recipePath = join(dir, 'recipe.json');
  await writeFile(
    recipePath,
    JSON.stringify({
      model: { source: fixturePath('models/aidreams260K') },
      tasks: ['target', 'helper'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion', metric: 'loss', validation_fraction: 0.25 })),
      mixture: { strategy: 'uniform' },
      lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] },
      batch_size: 2,
      max_length: 32,
      steps: 2,
      eval_examples: 6,
      checkpoint_every: 1,
      seed: 5,
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every run the design fixes: arms × seeds, as the CLI names them ("<arm> seed <n>"). */
const ALL_RUNS = ['target seed 5', 'target seed 6', 'target+helper seed 5', 'target+helper seed 6', 'helper seed 5', 'helper seed 6'];

/** "done <arm> seed <n>" lines of a run's log: the arm runs it finished. */
const finished = (log: string) => [...log.matchAll(/^ {2}done (\S+) seed (\d+):/gm)].map((m) => `${m[1]} seed ${m[2]}`);
/** "· arm <arm>, seed <n>" lines: the arm runs it started ("<arm> | <arm>": single-task arms trained together in one run). */
const started = (log: string) => [...log.matchAll(/^· arm (.+), seed (\d+) /gm)].flatMap((m) => m[1]!.split(' | ').map((arm) => `${arm} seed ${m[2]}`));

const ARGS = () => ['experiment', '--recipe', recipePath, '--design', 'single,pairs', '--targets', 'target', '--seeds', '2', '--out', join(dir, 'out'), '--json'];

/** Runs the real bin and presses Ctrl-C (SIGINT, which pauses) once the first arm run has finished. */
function runUntilFirstArm(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...ARGS()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!interrupted && finished(stderr).length > 0) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('cocktail experiment through the real bin', { timeout: 600_000 }, () => {
  it('pauses on Ctrl-C, resumes with --resume without redoing finished arms, and prints the report with every field the issue names', async () => {
    const first = await runUntilFirstArm();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/paused; continue with --resume/);
    const done = finished(first.stderr);
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThan(ALL_RUNS.length);
    const paused = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { arms: unknown[] };
    expect(Array.isArray(paused.arms)).toBe(true);

    // Without --resume the folder's experiment is not overwritten.
    const again = await run(process.execPath, [BIN, ...ARGS()]).catch((error: { stderr: string; code: number }) => error);
    expect((again as { stderr: string }).stderr).toMatch(/already exists; resume it/);

    // The single arms of a seed train together: the first run is both, so both finished before the pause.
    expect(first.stderr).toMatch(/^· arm target \| helper, seed 5 \(1\/4\)$/m);
    expect(done.slice(0, 2)).toEqual(['target seed 5', 'helper seed 5']);

    const { stdout, stderr } = await run(process.execPath, [BIN, ...ARGS(), '--resume'], { maxBuffer: 16 * 2 ** 20 });
    // Finished arm runs are skipped; the others (the interrupted one from its checkpoint) run once.
    expect(started(stderr).filter((name) => done.includes(name))).toEqual([]);
    expect([...done, ...started(stderr)].sort()).toEqual([...ALL_RUNS].sort());

    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['arms', 'baselines', 'effects', 'recommended', 'timing']));
    const arms = report.arms as { id: string; design: string; tasks: string[]; seeds: number[]; steps: number; metrics: Record<string, Record<string, unknown>> }[];
    expect(arms.map((arm) => arm.id)).toEqual(['target', 'helper', 'target+helper']);
    for (const arm of arms) {
      expect(arm).toEqual(expect.objectContaining({ id: expect.any(String), design: expect.any(String), tasks: arm.id.split('+'), seeds: [5, 6], steps: 2 }));
      expect(Object.keys(arm.metrics)).toEqual(['target', 'helper']);
      for (const metric of Object.values(arm.metrics)) {
        expect(metric).toEqual(expect.objectContaining({ metric: 'loss', mean: expect.any(Number), std: expect.any(Number), ci: [expect.any(Number), expect.any(Number)], n: 3 }));
        const ci = metric.ci as [number, number];
        expect(ci[0]).toBeLessThanOrEqual(metric.mean as number);
        expect(ci[1]).toBeGreaterThanOrEqual(metric.mean as number);
      }
    }
    expect(report.baselines).toEqual({ target: 'target' });
    const effects = report.effects as Record<string, unknown>[];
    expect(effects.map((e) => [e.arm, e.target])).toEqual([
      ['helper', 'target'],
      ['target+helper', 'target'],
    ]);
    for (const effect of effects) expect(effect).toEqual(expect.objectContaining({ delta: expect.any(Number), ci: [expect.any(Number), expect.any(Number)], significant: expect.any(Boolean) }));
    const recommended = report.recommended as { tasks: string[]; selection_scores: Record<string, number>; report_scores: Record<string, number> };
    expect(['target', 'target+helper']).toContain(recommended.tasks.join('+'));
    expect(recommended.selection_scores).toEqual({ target: expect.any(Number) });
    expect(recommended.report_scores).toEqual({ target: expect.any(Number) });
    const timing = report.timing as Record<string, number>;
    for (const key of ['total_s', 'train_s', 'evaluate_s', 'prepare_s']) expect(timing[key]).toBeGreaterThan(0);

    // The folder: results.json equal to the printed report, results.csv with a row per arm and task, each arm run's metrics and adapter.
    const out = join(dir, 'out');
    expect(JSON.parse(await readFile(join(out, 'results.json'), 'utf8'))).toEqual(report);
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toMatch(/^arm,design,tasks,seeds,steps,task,metric,mean,std,ci_low,ci_high,n,/);
    expect(csv).toHaveLength(1 + arms.length * 2);
    for (const name of ALL_RUNS) {
      const [arm, , seed] = name.split(' ');
      const armDir = join(out, 'arms', arm!, `seed-${seed}`);
      const steps = (await readFile(join(armDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { step: number });
      expect(steps.map((s) => s.step)).toEqual([1, 2]);
      expect(existsSync(join(armDir, 'adapter', 'adapter_config.json'))).toBe(true);
      expect(existsSync(join(armDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    }
  });
});
