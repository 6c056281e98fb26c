import { CocktailError } from '../errors.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { Generator } from '../model/generate.ts';
import { loadModel } from '../model/load.ts';
import { uploadLoraChecked } from '../model/lora-gpu.ts';
import { importPeftAdapter } from '../train/peft.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { LoadedModel } from '../model/load.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { RouterBundle } from '../route/bundle.ts';
import { answeringAdapter } from '../route/combine.ts';
import { routePrompts, type RoutedPrompt } from '../route/router.ts';
import { parseOptions } from './args.ts';
import { openRouterBundle, printRoute } from './router.ts';
import { readPeftAdapter } from './peft-files.ts';
import { modelFilesFor } from './model-source.ts';

export const GENERATE_USAGE =
  'cocktail generate --model <dir|hub id> [--revision R] [--adapter <peft dir> | --router <bundle dir>] (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N] [--temperature 0] [--top-p 1] [--seed N] [--stop TEXT] [--json]';

export async function generateCommand(args: string[]): Promise<number> {
  const options = parseOptions(
    'generate',
    args,
    { model: 'string', revision: 'string', adapter: 'string', router: 'string', prompt: 'string', ids: 'string', 'max-new-tokens': 'integer', temperature: 'number', 'top-p': 'number', seed: 'integer', stop: 'string', json: 'flag' },
  );
  if ((options.prompt === undefined) === (options.ids === undefined)) throw new CocktailError('BAD_ARGUMENT', 'generate needs exactly one of --prompt TEXT or --ids 1,2,3');
  if (options.adapter !== undefined && options.router !== undefined) throw new CocktailError('BAD_ARGUMENT', 'give --adapter (one adapter) or --router (the adapter the router chooses), not both');
  if (options.router !== undefined && options.prompt === undefined) throw new CocktailError('BAD_ARGUMENT', '--router routes a text prompt: give --prompt TEXT');
  if (options.model === undefined && options.router === undefined) throw new CocktailError('BAD_ARGUMENT', 'generate needs --model (or --router, whose bundle names its base model)');
  const json = options.json === true;
  const routed = options.router !== undefined ? await openRouterBundle(options.router, options.model) : undefined;
  const gpu = await acquireNodeGpu({ label: 'cocktail generate' });
  const model = await loadModel(gpu, routed?.files ?? (await modelFilesFor(options.model!, { ...(options.revision ? { revision: options.revision } : {}), quiet: json })));
  const promptIds = options.ids !== undefined ? parseIds(options.ids) : model.tokenizer.encode(options.prompt!);
  const choice = routed ? await routedAdapter(gpu, model, routed.bundle, options.prompt!) : undefined;
  if (choice && !json) printRoute(choice.decision, false);
  const adapter = choice ? choice.adapter : options.adapter ? await importPeftAdapter(await readPeftAdapter(options.adapter), model.config) : undefined;
  const lora = adapter ? await uploadLoraChecked(gpu, adapter, { training: false }) : undefined;
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
  const routing = choice ? { routed: { chosen: choice.decision.chosen, probabilities: choice.decision.probabilities, ...(choice.decision.mixture ? { mixture: choice.decision.mixture } : {}) } } : {};
  if (json) console.log(JSON.stringify({ ids: result.ids, text: result.text ?? '', prompt_ids: promptIds, stop_reason: result.stopReason, ...routing }));
  else process.stdout.write('\n');
  return 0;
}

/** The adapter the router picks for the prompt: the chosen expert's, a top-k mixture, or none for "base". */
async function routedAdapter(ctx: GpuContext, model: LoadedModel, bundle: RouterBundle, prompt: string): Promise<{ decision: RoutedPrompt; adapter: LoraAdapter | undefined }> {
  const [decision] = await routePrompts(ctx, model.gpu, model.tokenizer, bundle.router, [prompt]);
  const adapter = await answeringAdapter(decision!, (name) => importPeftAdapter(bundle.adapters.get(name)!, model.config), model.config.numLayers);
  return { decision: decision!, adapter };
}

function parseIds(text: string): number[] {
  const ids = text.split(',').map((part) => Number(part.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new CocktailError('BAD_ARGUMENT', `--ids must be comma-separated token ids such as 1,2,3; got "${text}"`);
  }
  return ids;
}
