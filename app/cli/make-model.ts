import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { CocktailError } from '../errors.ts';
import type { DType } from '../gpu/dtype.ts';
import { parameterCount, parseModelConfig } from '../model/config.ts';
import { randomModelTensors } from '../model/random-model.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { parseOptions } from './args.ts';

export const MAKE_MODEL_USAGE = 'cocktail make-model --config <config.json> --out <dir> [--dtype bf16|f16|f32] [--seed N]';

export async function makeModelCommand(args: string[]): Promise<number> {
  const options = parseOptions('make-model', args, { config: 'string', out: 'string', dtype: 'string', seed: 'integer' }, ['config', 'out']);
  const dtype = (options.dtype ?? 'bf16') as DType;
  if (!['bf16', 'f16', 'f32'].includes(dtype)) throw new CocktailError('BAD_ARGUMENT', `--dtype ${dtype} is not one of bf16, f16, f32`);
  const configPath = options.config as string;
  const rawConfig = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  const config = parseModelConfig(rawConfig, configPath);
  const out = options.out as string;
  await mkdir(out, { recursive: true });
  const blob = writeSafetensors(randomModelTensors(config, { dtype, seed: (options.seed as number | undefined) ?? 0 }), { format: 'pt' });
  await pipeline(Readable.fromWeb(blob.stream() as unknown as NodeReadableStream), createWriteStream(join(out, 'model.safetensors')));
  const torchDtype = { bf16: 'bfloat16', f16: 'float16', f32: 'float32' }[dtype];
  await writeFile(join(out, 'config.json'), `${JSON.stringify({ ...rawConfig, torch_dtype: torchDtype }, null, 2)}\n`);
  console.log(`wrote ${out}: ${config.architecture}, ${(parameterCount(config) / 1e6).toFixed(1)}M parameters in ${dtype} (${(blob.size / 2 ** 20).toFixed(1)} MiB)`);
  return 0;
}
