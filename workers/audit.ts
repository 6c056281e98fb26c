/**
 * audit.run inside the engine worker: the recipe's tasks prepared exactly as a run prepares them (same
 * files, tokenizer and tokenization cache), then audited (app/train/audit-recipe.ts). Needs the model's
 * tokenizer only, so no GPU. The term list is the user's edited one, or the default.
 */
import { DEFAULT_TERM_LIST, parseTermList, type AuditProgress, type AuditReport } from '../app/audit/index.ts';
import { tokenizerIdentity } from '../app/data/tokenize/tokenizer-identity.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import type { Storage } from '../app/store/storage.ts';
import { auditRecipe } from '../app/train/audit-recipe.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { openModelFiles } from './model-files.ts';
import type { HubSettings } from './protocol.ts';
import { openTaskFile } from './studio-env.ts';

export async function auditInStudio(request: { recipe: unknown; terms?: string } & HubSettings, storage: Storage, signal: AbortSignal, progress: (event: AuditProgress) => void): Promise<AuditReport> {
  const recipe = parseRecipe(request.recipe, 'recipe audited');
  const terms = parseTermList(request.terms ?? DEFAULT_TERM_LIST, 'the bias term list');
  const { hubEndpoint, hubToken } = request;
  const files = await openModelFiles(storage, { source: recipe.model.source, revision: recipe.model.revision }, { ...(hubEndpoint ? { hubEndpoint } : {}), ...(hubToken ? { hubToken } : {}), signal });
  return auditRecipe(
    recipe,
    {
      tokenizer: await loadTokenizer(files),
      openFile: (path) => openTaskFile(storage, path),
      storage,
      tokenizerIdentity: await tokenizerIdentity(files),
      signal,
      ...(hubEndpoint ? { hubEndpoint } : {}),
      ...(hubToken ? { hubAccessToken: hubToken } : {}),
    },
    { terms, onProgress: progress },
  );
}
