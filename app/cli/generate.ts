import { CocktailError } from '../errors.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { Generator } from '../model/generate.ts';
import { loadModel } from '../model/load.ts';
import { uploadLoraChecked } from '../model/lora-gpu.ts';
import { importPeftAdapter } from '../train/peft.ts';
import { parseOptions } from './args.ts';
import { readPeftAdapter } from './peft-files.ts';
import { modelFilesFor } from './model-source.ts';

export const GENERATE_USAGE =
  'cocktail generate --model <dir|hub id> [--revision R] [--adapter <peft dir>] (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N] [--temperature 0] [--top-p 1] [--seed N] [--stop TEXT] [--json]';

export async function generateCommand(args: string[]): Promise<number> {
  const options = parseOptions(
    'generate',
    args,
    { model: 'string', revision: 'string', adapter: 'string', prompt: 'string', ids: 'string', 'max-new-tokens': 'integer', temperature: 'number', 'top-p': 'number', seed: 'integer', stop: 'string', json: 'flag' },
    ['model'],
  );
  if ((options.prompt === undefined) === (options.ids === undefined)) throw new CocktailError('BAD_ARGUMENT', 'generate needs exactly one of --prompt TEXT or --ids 1,2,3');
  const json = options.json === true;
  const gpu = await acquireNodeGpu({ label: 'cocktail generate' });
  const model = await loadModel(gpu, await modelFilesFor(options.model!, { ...(options.revision ? { revision: options.revision } : {}), quiet: json }));
  const promptIds = options.ids !== undefined ? parseIds(options.ids) : model.tokenizer.encode(options.prompt!);
  const lora = options.adapter ? await uploadLoraChecked(gpu, await importPeftAdapter(await readPeftAdapter(options.adapter), model.config), { training: false }) : undefined;
  const maxNewTokens = options['max-new-tokens'] ?? 64;
  // The cache holds the prompt and what is generated, not the model's whole context (8.6 GB for Llama 3.2 1B).
  const capacity = Math.min(promptIds.length + Math.max(1, maxNewTokens), model.config.maxPositionEmbeddings);
  const generator = new Generator(gpu, model.gpu, { capacity, ...(lora ? { lora } : {}) });
  const result = await generator.generate(promptIds, {
    maxNewTokens,
    temperature: options.temperature ?? 0,
    topP: options['top-p'] ?? 1,
    seed: options.seed ?? 0,
    eosIds: model.tokenizer.eosIds,
    ...(options.stop ? { stopStrings: [options.stop] } : {}),
    decode: (ids) => model.tokenizer.decode(ids, { skipSpecialTokens: true }),
    onToken: (_, delta) => {
      if (!json) process.stdout.write(delta);
    },
  });
  if (json) console.log(JSON.stringify({ ids: result.ids, text: result.text ?? '', prompt_ids: promptIds, stop_reason: result.stopReason }));
  else process.stdout.write('\n');
  return 0;
}

function parseIds(text: string): number[] {
  const ids = text.split(',').map((part) => Number(part.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new CocktailError('BAD_ARGUMENT', `--ids must be comma-separated token ids such as 1,2,3; got "${text}"`);
  }
  return ids;
}
