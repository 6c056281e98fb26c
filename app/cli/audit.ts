import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_TERM_LIST, parseTermList, type AuditReport } from '../audit/index.ts';
import { tokenizerIdentity } from '../data/tokenize/tokenizer-identity.ts';
import { CocktailError } from '../errors.ts';
import { parseModelConfig } from '../model/config.ts';
import { readJsonFile } from '../model/source.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { openFileStorage } from '../store/fs.ts';
import { auditRecipe } from '../train/audit-recipe.ts';
import { clampToContext } from '../train/context-length.ts';
import { parseOptions } from './args.ts';
import { modelFilesFor } from './model-source.ts';
import { readRecipe, recipeModelSource, taskFileOpener } from './recipe-env.ts';

export const AUDIT_USAGE = 'cocktail audit --recipe <recipe.json> [--terms <term list>] [--json]';

/**
 * Audits a recipe's prepared tasks (no GPU needed: only the tokenizer): sizes under the mixture,
 * label balance, lengths, duplicates and leakage, bias probes, personal data, and findings.
 * Exits 0 whatever the findings; a recipe that cannot be read at all is an error.
 */
export async function auditCommand(args: string[]): Promise<number> {
  const options = parseOptions('audit', args, { recipe: 'string', terms: 'string', json: 'flag' }, ['recipe']);
  const { recipe, recipeDir } = await readRecipe(options.recipe!);
  const json = options.json === true;
  const terms = options.terms ? parseTermList(await readTermFile(resolve(options.terms)), resolve(options.terms)) : parseTermList(DEFAULT_TERM_LIST);
  const files = await modelFilesFor(recipeModelSource(recipeDir, recipe.model.source), { revision: recipe.model.revision, quiet: json });
  const storage = await openFileStorage(join(process.env.COCKTAIL_CACHE ?? join(tmpdir(), 'cocktail-studio'), 'audit'));
  const tty = process.stderr.isTTY && !json;
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  // Audited as `cocktail train` prepares it: at max_length clamped to the model's context.
  const clamped = clampToContext(recipe, config.maxPositionEmbeddings);
  if (clamped.notice) console.error(clamped.notice);
  const report = await auditRecipe(
    clamped.recipe,
    { tokenizer: await loadTokenizer(files, config), openFile: taskFileOpener(recipeDir), storage, tokenizerIdentity: await tokenizerIdentity(files), ...(process.env.HF_ENDPOINT ? { hubEndpoint: process.env.HF_ENDPOINT } : {}), ...(process.env.HF_TOKEN ? { hubAccessToken: process.env.HF_TOKEN } : {}) },
    { terms, contextLength: config.maxPositionEmbeddings, ...(tty ? { onProgress: (event) => process.stderr.write(`\r${event.stage} ${event.task} ${event.done}/${event.total}    `) } : {}) },
  );
  if (tty) process.stderr.write('\n');
  console.log(json ? JSON.stringify(report) : formatAudit(report));
  await storage.close();
  return 0;
}

async function readTermFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new CocktailError('AUDIT_TERMS_NOT_FOUND', `${path}: no such term list`, { file: path });
  }
}

function formatAudit(report: AuditReport): string {
  const lines: string[] = [];
  for (const failure of report.failed) lines.push(`${failure.task}: NOT AUDITED: ${failure.message} [${failure.code}]`);
  for (const audit of Object.values(report.tasks)) {
    const epochs = audit.expected_epochs === null ? '' : `, ${audit.expected_epochs.toFixed(2)} epochs expected`;
    lines.push(`${audit.task}: ${audit.train_rows} train / ${audit.validation_rows} validation rows${epochs}`);
    if (audit.label_counts) lines.push(`  labels ${Object.entries(audit.label_counts).map(([label, count]) => `${label} ${count}`).join(', ')}; majority "${audit.majority!.label}" scores ${((audit.majority!.validation_accuracy ?? audit.majority!.train_accuracy) * 100).toFixed(1)}%`);
    lines.push(`  tokens p50 ${audit.lengths.p50}, p99 ${audit.lengths.p99}, max ${audit.lengths.max}; ${(audit.lengths.truncated_share * 100).toFixed(1)}% truncated; ${(audit.lengths.loss_token_share * 100).toFixed(1)}% of tokens carry loss`);
    lines.push(`  duplicates ${audit.duplicates.exact} exact, ${audit.duplicates.near} near; personal data ${audit.pii.email} e-mail, ${audit.pii.phone} phone, ${audit.pii.card} card, ${audit.pii.url} URL; ${audit.bias_flags.length} of ${audit.bias_tested} probed terms flagged`);
  }
  for (const entry of report.cross.leakage) lines.push(`leakage: ${entry.count} validation row(s) of ${entry.validation_task} in the training rows of ${entry.train_task}`);
  for (const entry of report.cross.duplicates) lines.push(`across tasks: ${entry.count} training input(s) of ${entry.task_b} also in ${entry.task_a}`);
  lines.push('', 'findings:');
  for (const finding of report.findings) lines.push(`  ${finding.severity.toUpperCase()} ${finding.task ?? '(mixture)'}: ${finding.message} → ${finding.action}`);
  return lines.join('\n');
}
