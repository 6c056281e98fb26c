/**
 * `npm run bench:kernels`: every matrix product of a LoRA training step of SmolLM2-135M (the published
 * config in ../shared/fixtures/configs) at B·T = 512 and 2048, ours against tf.matMul of
 * @tensorflow/tfjs-backend-webgpu on the same device in the same page of real Chromium (Debian's, or
 * $COCKTAIL_CHROMIUM), served by a Vite dev server; `--node` runs the same page code on Dawn in Node.
 * Writes bench/results/kernels.json (see KernelResults in bench/kernel-products.ts) and kernels.md.
 *
 * Options: --tokens 512,2048  --runs N  --warmups N  --kernels auto|gpu|cpu  --wall (no timestamp
 * queries)  --only <text> (products whose name contains it)  --node  --out <file stem>  --without <features>
 * (wanted features the device is created without, e.g. subgroups: decoding then takes gemv, not gemv-subgroup).
 * On a CPU adapter (SwiftShader) the defaults are 1 timed run and no extra warm-up, and with timestamp
 * queries that run is the comparison call itself (each contender runs a product once), and the LM head
 * at 2,048 tokens or more is measured on 1/16 of the vocabulary (--lm-head-shards N; 1 runs it whole),
 * because the whole head there is 116 GFLOP per product; elsewhere 10 runs after 3 warm-ups, whole.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseOptions } from '../app/cli/args.ts';
import { CocktailError } from '../app/errors.ts';
import { WANTED_FEATURES } from '../app/gpu/device.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { openBenchPage } from './bench-page.ts';
import type { KernelBenchDevice, KernelBenchRuns, KernelBenchSetup, KernelMeasurement } from './browser/kernels.ts';
import { f16Verdict, kernelProducts, kernelRow, kernelTable, onVocabShard, productFlops, type KernelProduct, type KernelResults, type KernelRow } from './kernel-products.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONFIG = resolve(ROOT, '../shared/fixtures/configs/SmolLM2-135M.config.json');
const LORA_RANK = 16;
/** On a CPU adapter: the LM head at this many tokens or more runs on a vocabulary shard (see onVocabShard). */
const CPU_SHARDED_LM_HEAD_TOKENS = 2048;
const CPU_LM_HEAD_SHARDS = 16;

/** Runs the page's two functions in Chromium or, with --node, in this process on Dawn. */
interface Bench {
  browser: string;
  setup(setup: KernelBenchSetup): Promise<KernelBenchDevice>;
  product(product: KernelProduct, runs: KernelBenchRuns): Promise<KernelMeasurement>;
  close(): Promise<void>;
}

async function chromiumBench(): Promise<Bench> {
  const { page, browser, close } = await openBenchPage(ROOT, 'bench/browser/kernels.html', 'kernelBenchProduct');
  return {
    browser,
    setup: (setup) => page.evaluate((s) => window.kernelBenchSetup(s), setup),
    product: (product, runs) => page.evaluate(([p, r]) => window.kernelBenchProduct(p, r), [product, runs] as const),
    close,
  };
}

async function nodeBench(withoutFeatures: GPUFeatureName[]): Promise<Bench> {
  const { acquireNodeGpu } = await import('../app/gpu/node-gpu.ts');
  const gpu = await acquireNodeGpu({ label: 'bench kernels', withoutFeatures });
  // TF.js looks for navigator.gpu before it starts a WebGPU backend; it is handed our device.
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  scope.navigator ??= {};
  scope.navigator.gpu ??= (await import('webgpu')).create([]);
  const page = await import('./browser/kernels.ts');
  return {
    browser: `Node ${process.version} with Dawn (the webgpu package), no browser`,
    setup: (setup) => page.kernelBenchSetup(setup, gpu),
    product: (product, runs) => page.kernelBenchProduct(product, runs),
    async close() {
      gpu.destroy();
    },
  };
}

function parseTokens(text: string): number[] {
  const tokens = text.split(',').map((part) => Number(part.trim()));
  if (tokens.length === 0 || !tokens.every((t) => Number.isInteger(t) && t > 0)) {
    throw new CocktailError('BAD_ARGUMENT', `--tokens ${text}: give positive whole numbers separated by commas, e.g. 512,2048`);
  }
  return tokens;
}

/** --without subgroups,shader-f16: wanted features the device is created without, as on an adapter that lacks them. */
function parseFeatures(text: string): GPUFeatureName[] {
  const features = text.split(',').map((part) => part.trim()).filter(Boolean);
  const unknown = features.filter((feature) => !(WANTED_FEATURES as readonly string[]).includes(feature));
  if (unknown.length > 0) throw new CocktailError('BAD_ARGUMENT', `--without ${text}: ${unknown.join(', ')} is not one of the features the engine asks for (${WANTED_FEATURES.join(', ')})`);
  return features as GPUFeatureName[];
}

async function main(): Promise<void> {
  // argv: node, bin/run-ts.mjs, bench/kernels.ts, options…
  const options = parseOptions('bench:kernels', process.argv.slice(3), { tokens: 'string', runs: 'integer', warmups: 'integer', kernels: 'string', wall: 'flag', only: 'string', node: 'flag', out: 'string', 'peak-tflops': 'number', 'lm-head-shards': 'integer', without: 'string' });
  const kernels = options.kernels ?? 'auto';
  if (kernels !== 'auto' && kernels !== 'gpu' && kernels !== 'cpu') throw new CocktailError('BAD_ARGUMENT', `--kernels ${kernels}: give auto, gpu or cpu`);
  const tokens = parseTokens(options.tokens ?? '512,2048');
  const peakTflops = options['peak-tflops'];
  if (peakTflops !== undefined && !(peakTflops > 0)) throw new CocktailError('BAD_ARGUMENT', `--peak-tflops ${peakTflops}: give the adapter's FP32 peak in TFLOP/s, e.g. 67 for an H100 SXM`);
  const config = parseModelConfig(JSON.parse(await readFile(CONFIG, 'utf8')), CONFIG);
  const shardsOption = options['lm-head-shards'];
  if (shardsOption !== undefined && !(shardsOption >= 1)) throw new CocktailError('BAD_ARGUMENT', `--lm-head-shards ${shardsOption}: give 1 (the whole vocabulary) or more`);
  const wholeProducts = tokens
    .flatMap((t) => kernelProducts(config, t, LORA_RANK))
    .filter((p) => !options.only || p.kernel.includes(options.only));
  if (wholeProducts.length === 0) throw new CocktailError('BAD_ARGUMENT', `--only ${options.only}: no product's name contains it`);
  const started = performance.now();
  const withoutFeatures = parseFeatures(options.without ?? '');
  const bench = options.node ? await nodeBench(withoutFeatures) : await chromiumBench();
  try {
    const device = await bench.setup({ kernels, wallClock: options.wall === true, withoutFeatures });
    const cpu = device.isFallbackAdapter || /swiftshader/i.test(device.adapter);
    const runs: KernelBenchRuns = { runs: options.runs ?? (cpu ? 1 : 10), warmups: options.warmups ?? (cpu ? 0 : 3) };
    runs.timeComparison = cpu && device.timing === 'timestamp-query' && runs.runs === 1 && runs.warmups === 0;
    const shards = (product: KernelProduct): number => shardsOption ?? (cpu && product.shape[0] >= CPU_SHARDED_LM_HEAD_TOKENS ? CPU_LM_HEAD_SHARDS : 1);
    // Cheapest first: a run stopped early (its file is rewritten after every product) has measured the most rows.
    const products = wholeProducts.map((p) => onVocabShard(p, shards(p))).sort((a, b) => productFlops(a.shape) - productFlops(b.shape));
    const sharded = products.filter((p) => p.kernel.includes('vocab shard')).map((p) => `${p.kernel} at ${p.shape[0]} tokens`);
    console.error(`${bench.browser}; ${device.adapter}; timing by ${device.timing}; ${products.length} products, ${runs.runs} timed run(s) each after ${runs.warmups} extra warm-up(s)${runs.timeComparison ? ', the timed run being the compared call' : ''}`);
    const rows: KernelRow[] = [];
    let largestDifference = 0;
    const stem = options.out ? resolve(options.out) : join(ROOT, 'bench/results/kernels');
    await mkdir(dirname(stem), { recursive: true });
    const results = (): KernelResults => ({
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString()}`,
      adapter: device.adapter,
      browser: `${bench.browser}; TF.js ${device.tfjsVersion}`,
      rows,
      features: device.features,
      kernels,
      timing: device.timing,
      runs: runs.runs,
      warmups: runs.warmups,
      largest_difference: largestDifference,
      ...(peakTflops !== undefined ? { fp32_peak_tflops: peakTflops, ours_peak_shares: rows.map((row) => row.ours_gflops / (peakTflops * 1000)) } : {}),
      notes: [
        cpu ? 'A CPU adapter (SwiftShader): compare ratios, not GFLOP/s.' : '',
        `B·T = ${tokens.join(', ')}; our frozen weights bf16, TF.js's the same values in f32 (it has no bf16).`,
        runs.timeComparison ? 'Each contender ran each product once: the compared call is the timed run (timestamps bracket the pass, so compilation is outside it).' : '',
        f16Verdict(rows, device.features.includes('shader-f16') && !withoutFeatures.includes('shader-f16')),
        sharded.length > 0 ? `Measured on a vocabulary shard (the same product over fewer output columns; the row's N says how many): ${sharded.join('; ')}.` : '',
        rows.length < products.length ? `INCOMPLETE: ${rows.length} of ${products.length} products measured so far;` : 'The whole run took',
        `${((performance.now() - started) / 60_000).toFixed(1)} minutes.`,
      ].filter(Boolean).join(' '),
    });
    // Written after every product, so a run that is stopped keeps what it measured (and says so).
    const write = async (): Promise<string> => {
      const table = kernelTable(results());
      await writeFile(`${stem}.json`, JSON.stringify(results(), null, 2) + '\n');
      await writeFile(`${stem}.md`, `# bench:kernels\n\n${table}\n`);
      return table;
    };
    for (const [i, product] of products.entries()) {
      const measured = await bench.product(product, runs);
      largestDifference = Math.max(largestDifference, measured.difference);
      const row = kernelRow(product, measured);
      rows.push(row);
      console.error(`[${i + 1}/${products.length}] ${row.kernel} [${row.shape.join(', ')}] ${row.route}: ours ${row.ours_gflops.toFixed(2)} GFLOP/s, TF.js ${row.tfjs_gflops.toFixed(2)}, ${row.ratio.toFixed(2)}x${row.f16 ? `; f16 weights: gemm ${row.f16.gemm_gflops.toFixed(2)}, gemm-f16 ${row.f16.gemm_f16_gflops.toFixed(2)} GFLOP/s` : ''}`);
      await write();
    }
    console.log(`${await write()}\n\nresults in ${stem}.json and .md`);
  } finally {
    await bench.close();
  }
  process.exit(0);
}

await main();
