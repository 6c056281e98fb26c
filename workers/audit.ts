/**
 * audit.run inside the engine worker: the recipe's tasks prepared exactly as a run prepares them (same
 * files, tokenizer and tokenization cache), then audited (app/train/audit-recipe.ts). Needs the model's
 * tokenizer only, so no GPU. The term list is the user's edited one, or the default.
 */
import { DEFAULT_TERM_LIST, parseTermList, type AuditProgress, type AuditReport } from '../app/audit/index.ts';
import { tokenizerIdentity } from '../app/data/tokenize/tokenizer-identity.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { readJsonFile } from '../app/model/source.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import type { Storage } from '../app/store/storage.ts';
import { auditRecipe } from '../app/train/audit-recipe.ts';
import { clampToContext } from '../app/train/context-length.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { openModelFiles } from './model-files.ts';
import type { HubSettings } from './protocol.ts';
import { openTaskFile } from './studio-env.ts';

export async function auditInStudio(request: { recipe: unknown; terms?: string } & HubSettings, storage: Storage, signal: AbortSignal, progress: (event: AuditProgress) => void): Promise<AuditReport> {
  const recipe = parseRecipe(request.recipe, 'recipe audited');
  const terms = parseTermList(request.terms ?? DEFAULT_TERM_LIST, 'the bias term list');
  const { hubEndpoint, hubToken } = request;
  const files = await openModelFiles(storage, { source: recipe.model.source, revision: recipe.model.revision }, { ...(hubEndpoint ? { hubEndpoint } : {}), ...(hubToken ? { hubToken } : {}), signal });
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  // Audited as a run prepares it: at max_length clamped to the model's context (app/train/context-length.ts).
  return auditRecipe(
    clampToContext(recipe, config.maxPositionEmbeddings).recipe,
    {
      tokenizer: await loadTokenizer(files, config),
      openFile: (path) => openTaskFile(storage, path),
      storage,
      tokenizerIdentity: await tokenizerIdentity(files),
      signal,
      ...(hubEndpoint ? { hubEndpoint } : {}),
      ...(hubToken ? { hubAccessToken: hubToken } : {}),
    },
    { terms, onProgress: progress, contextLength: config.maxPositionEmbeddings },
  );
}
