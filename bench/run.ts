/**
 * `npm run bench`: kernel throughput on Dawn in Node. Writes bench/results/<date>-<adapter>.json and a
 * markdown table to stdout. On SwiftShader only ratios between rows of one run mean anything.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireNodeGpu } from '../app/gpu/node-gpu.ts';
import { encodeTensorData, type DType } from '../app/gpu/dtype.ts';
import { encodeLoraLinear, loraLinearFlops, type LoraLinearInputs } from '../app/gpu/ops/lora_linear.ts';
import { createTensor } from '../app/gpu/tensor.ts';
import { Random } from '../app/util/random.ts';

interface Row {
  kernel: string;
  M: number;
  N: number;
  K: number;
  R: number;
  dtype: DType;
  msPerCall: number;
  gflops: number;
}

const SHAPES = [
  { M: 256, N: 576, K: 576 }, // SmolLM2-135M q_proj/o_proj over 256 tokens
  { M: 256, N: 1536, K: 576 }, // SmolLM2-135M gate/up
  { M: 256, N: 1024, K: 1024 },
];

async function main(): Promise<void> {
  const gpu = await acquireNodeGpu({ label: 'bench' });
  const { device } = gpu;
  const adapter = `${gpu.info.adapter.vendor}-${gpu.info.adapter.architecture}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const random = Random.fromSeed(1);
  const rows: Row[] = [];
  for (const { M, N, K } of SHAPES) {
    for (const R of [0, 16]) {
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        const values = (n: number) => random.fillUniform(new Float32Array(n), -1, 1);
        const inputs: LoraLinearInputs = {
          x: createTensor(device, 'X', [M, K], 'f32', values(M * K)),
          w: createTensor(device, 'W', [N, K], dtype, encodeTensorData(dtype, values(N * K))),
          ...(R > 0 ? { lora: { a: createTensor(device, 'A', [R, K], 'f32', values(R * K)), b: createTensor(device, 'B', [N, R], 'f32', values(N * R)), scale: 2 } } : {}),
        };
        const y = createTensor(device, 'Y', [M, N], 'f32');
        const u = R > 0 ? createTensor(device, 'U', [M, R], 'f32') : undefined;
        const time = async (calls: number): Promise<number> => {
          const start = performance.now();
          for (let i = 0; i < calls; i++) {
            const encoder = device.createCommandEncoder();
            encodeLoraLinear(gpu, encoder, inputs, y, u);
            device.queue.submit([encoder.finish()]);
          }
          await device.queue.onSubmittedWorkDone();
          return performance.now() - start;
        };
        await time(1);
        let calls = 1;
        let ms = await time(calls);
        while (ms < 300) ms = await time((calls *= 2));
        const msPerCall = ms / calls;
        rows.push({ kernel: 'lora_linear', M, N, K, R, dtype, msPerCall, gflops: loraLinearFlops({ M, N, K, R }) / msPerCall / 1e6 });
        console.error(`lora_linear M=${M} N=${N} K=${K} R=${R} ${dtype}: ${msPerCall.toFixed(2)} ms`);
      }
    }
  }
  const machine = { adapter: gpu.info.adapter, node: process.version, date: new Date().toISOString() };
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${machine.date.slice(0, 10)}-${adapter}.json`);
  await writeFile(file, JSON.stringify({ machine, rows }, null, 2) + '\n');
  console.log(`| kernel | M | N | K | R | W dtype | ms/call | GFLOP/s | vs f32 |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
  for (const row of rows) {
    const f32 = rows.find((r) => r.M === row.M && r.N === row.N && r.K === row.K && r.R === row.R && r.dtype === 'f32')!;
    console.log(`| ${row.kernel} | ${row.M} | ${row.N} | ${row.K} | ${row.R} | ${row.dtype} | ${row.msPerCall.toFixed(2)} | ${row.gflops.toFixed(2)} | ${(f32.msPerCall / row.msPerCall).toFixed(2)}x |`);
  }
  console.log(`\n${machine.adapter.vendor} ${machine.adapter.architecture} ${machine.adapter.description}, Node ${machine.node}; results in ${file}`);
  gpu.destroy();
  process.exit(0);
}

await main();
