import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { parseModelConfig } from '../model/config.ts';
import { readJsonFile } from '../model/source.ts';
import { locateWeights } from '../model/weights.ts';
import { mergeAdapter } from '../train/merge.ts';
import { importPeftAdapter } from '../train/peft.ts';
import { parseOptions } from './args.ts';
import { modelFilesFor } from './model-source.ts';
import { readPeftAdapter } from './peft-files.ts';

export const MERGE_USAGE = 'cocktail merge --model <dir|hub id> --adapter <peft dir|zip> --out <dir>';

/** Files of the base model that belong with the merged weights unchanged. */
const COPIED = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

export async function mergeCommand(args: string[]): Promise<number> {
  const options = parseOptions('merge', args, { model: 'string', adapter: 'string', out: 'string' }, ['model', 'adapter', 'out']);
  const files = await modelFilesFor(options.model!);
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  const adapter = await importPeftAdapter(await readPeftAdapter(options.adapter!), config);
  const merged = await mergeAdapter(config, await locateWeights(files, config), adapter);
  await mkdir(options.out!, { recursive: true });
  await pipeline(Readable.fromWeb(merged.stream() as unknown as NodeReadableStream), createWriteStream(join(options.out!, 'model.safetensors')));
  for (const name of COPIED) if (files.has(name)) await writeFile(join(options.out!, name), new Uint8Array(await (await files.open(name)).arrayBuffer()));
  console.log(`wrote ${options.out}: ${files.label} with the adapter merged into ${adapter.config.targets.join(', ')}`);
  return 0;
}
