/**
 * `npm run bench:train`: one optimizer step (forward, loss, backward, AdamW) of a random-weight
 * SmolLM2-135M-shaped model (../shared/fixtures/configs), LoRA r = 16 on all seven projections, bf16
 * frozen weights, by our Trainer and by the same LoRA step in TF.js's WebGPU backend, in one page of
 * real Chromium (bench/browser/train.ts). Writes bench/results/train.json (TrainResults) and train.md.
 *
 * Options: --batch B --seq T (default 4 × 512 = 2,048 tokens; 1 × 32 on a CPU adapter such as
 * SwiftShader, where 2,048 tokens of a 135M model take hours for TF.js), --runs N (default 3; 1 on a
 * CPU adapter), --layers L (fewer decoder layers, said in the notes), --out <file stem>.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseOptions } from '../app/cli/args.ts';
import { CocktailError } from '../app/errors.ts';
import { openBenchPage } from './bench-page.ts';
import type { TrainBenchOptions } from './browser/train.ts';
import { trainResults, trainTable } from './train-results.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONFIG = resolve(ROOT, '../shared/fixtures/configs/SmolLM2-135M.config.json');

async function main(): Promise<void> {
  // argv: node, bin/run-ts.mjs, bench/train.ts, options…
  const options = parseOptions('bench:train', process.argv.slice(3), { batch: 'integer', seq: 'integer', runs: 'integer', layers: 'integer', out: 'string' });
  for (const name of ['batch', 'seq', 'runs', 'layers'] as const) {
    const value = options[name];
    if (value !== undefined && !(value > 0)) throw new CocktailError('BAD_ARGUMENT', `--${name} ${value}: give a positive whole number`);
  }
  const config = JSON.parse(await readFile(CONFIG, 'utf8')) as Record<string, unknown>;
  if (options.layers !== undefined) config.num_hidden_layers = options.layers;
  const started = performance.now();
  const { page, browser, close } = await openBenchPage(ROOT, 'bench/browser/train.html', 'trainBench');
  try {
    // The adapter decides the default size: ask the page what it has before building anything.
    const fallback = await page.evaluate(async () => Boolean((await navigator.gpu?.requestAdapter())?.info.isFallbackAdapter || /swiftshader/i.test((await navigator.gpu?.requestAdapter())?.info.architecture ?? '')));
    const B = options.batch ?? (fallback ? 1 : 4);
    const T = options.seq ?? (fallback ? 32 : 512);
    const runs = options.runs ?? (fallback ? 1 : 3);
    const why = options.batch !== undefined || options.seq !== undefined ? 'chosen on the command line' : fallback ? 'the default on a CPU adapter (SwiftShader), where the issue’s 2,048 tokens take TF.js hours; 4 × 512 elsewhere' : 'the issue’s B·T = 2,048';
    console.error(`${browser}: B × T = ${B} × ${T} (${why}), ${runs} timed step(s) per engine after a warm-up step …`);
    const benchOptions: TrainBenchOptions = { config, B, T, runs, rank: 16 };
    const result = await page.evaluate((o) => window.trainBench(o), benchOptions);
    const minutes = (performance.now() - started) / 60_000;
    const results = trainResults({
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString()}`,
      adapter: result.adapter,
      browser: `${browser}; TF.js ${result.tfjsVersion}`,
      B,
      T,
      oursMs: result.ours.ms,
      tfjsMs: result.tfjs.ms,
      counts: result.ours.counts,
      notes: [
        `Random-weight SmolLM2-135M shape${options.layers !== undefined ? ` cut to ${options.layers} decoder layer(s)` : ''}, LoRA r = 16 on all seven projections, grad_accum 1; B × T = ${B} × ${T} (${why}).`,
        `Ours: the studio's Trainer, bf16 frozen weights; TF.js: the same step with f32 frozen weights (it has no bf16). Median of ${runs} timed step(s) after a warm-up step each.`,
        `First-step losses: ours ${result.ours.firstLoss.toFixed(3)}, TF.js ${result.tfjs.firstLoss.toFixed(3)} (ln V = ${Math.log(Number(config.vocab_size)).toFixed(3)}).`,
        `Counts are of one timed step of ours. ${result.isFallbackAdapter || /swiftshader/i.test(result.adapter) ? 'A CPU adapter: compare ratios, not tokens/s. ' : ''}The whole run took ${minutes.toFixed(1)} minutes.`,
      ].join(' '),
    });
    const stem = options.out ? resolve(options.out) : join(ROOT, 'bench/results/train');
    await mkdir(dirname(stem), { recursive: true });
    const table = trainTable(results);
    await writeFile(`${stem}.json`, JSON.stringify(results, null, 2) + '\n');
    await writeFile(`${stem}.md`, `# bench:train\n\n${table}\n`);
    console.log(`${table}\n\nresults in ${stem}.json and .md`);
  } finally {
    await close();
  }
  process.exit(0);
}

await main();
