import { openAsBlob, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TERM_LIST, parseTermList, type AuditProgress } from '../audit/index.ts';
import { tokenizerIdentity } from '../data/tokenize/index.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { openFileStorage } from '../store/fs.ts';
import { auditRecipe } from './audit-recipe.ts';
import { parseModelConfig } from '../model/config.ts';
import { readJsonFile } from '../model/source.ts';
import { fixtureTokenizer, FPB_TASK, modelFiles, openRecipeFile, RECIPE_DIR, testRecipe, TWEETS_TASK } from './prepare/test-support.ts';

const terms = parseTermList(DEFAULT_TERM_LIST);

/** RFC 4180 fields of one CSV text, written here independently of app/data's parser. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let field = '';
  let fields: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      rows.push(fields);
      fields = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || fields.length > 0) rows.push([...fields, field]);
  return rows;
}

/** Rows minus distinct (trimmed text, label): each extra copy counted once. */
function duplicatesOf(pairs: readonly [string, string][]): number {
  return pairs.length - new Set(pairs.map(([text, label]) => `${text.trim()}\u0000${label.trim()}`)).size;
}

describe('auditRecipe on the fixtures', () => {
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    tokenizer = await fixtureTokenizer();
  });

  it('counts the exact duplicates of FPB and the tweets as an independent count of the files does', async () => {
    const fpbLines = readFileSync(path.join(RECIPE_DIR, FPB_TASK.source.file), 'latin1')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '');
    const fpbPairs = fpbLines.map((line): [string, string] => [line.slice(0, line.lastIndexOf('@')), line.slice(line.lastIndexOf('@') + 1)]);
    const tweetRows = parseCsv(readFileSync(path.join(RECIPE_DIR, TWEETS_TASK.source.file), 'utf8')).slice(1);
    const tweetPairs = tweetRows.map((fields): [string, string] => [fields[0]!, fields[1]!]);
    const expected = { fpb: duplicatesOf(fpbPairs), tweets: duplicatesOf(tweetPairs) };
    expect(expected.fpb).toBeGreaterThan(0);

    const progress: AuditProgress[] = [];
    const report = await auditRecipe(testRecipe([FPB_TASK, TWEETS_TASK]), { tokenizer, openFile: openRecipeFile }, { terms, onProgress: (event) => progress.push(event) });
    expect(report.failed).toEqual([]);
    expect(report.tasks.fpb!.rows).toBe(fpbPairs.length);
    expect(report.tasks.tweets!.rows).toBe(tweetPairs.length);
    expect(report.tasks.fpb!.duplicates.exact).toBe(expected.fpb);
    expect(report.tasks.tweets!.duplicates.exact).toBe(expected.tweets);
    // Label counts of the training split plus the validation split are the file's.
    const fpbLabels: Record<string, number> = {};
    for (const [, label] of fpbPairs) fpbLabels[label.trim()] = (fpbLabels[label.trim()] ?? 0) + 1;
    const both = Object.fromEntries(Object.keys(fpbLabels).map((label) => [label, report.tasks.fpb!.label_counts![label]! + (report.tasks.fpb!.validation_label_counts![label] ?? 0)]));
    expect(both).toEqual(fpbLabels);
    // The tweets carry t.co links: personal-data patterns see them as URLs.
    const urls = tweetPairs.reduce((sum, [text]) => sum + (text.match(/https?:\/\/\S+/g)?.length ?? 0), 0);
    expect(report.tasks.tweets!.pii.url).toBe(urls);
    expect(progress.some((event) => event.task === 'tweets' && event.stage === 'audit' && event.done === event.total)).toBe(true);
    expect(progress.some((event) => event.stage === 'prepare')).toBe(true);
  }, 240_000);
});

describe('auditRecipe on constructed files', () => {
  let tokenizer: TextTokenizer;
  let dir: string;
  beforeAll(async () => {
    tokenizer = await fixtureTokenizer();
  });

  async function files(contents: Record<string, string>): Promise<(name: string) => Promise<Blob>> {
    dir = await mkdtemp(path.join(tmpdir(), 'audit-'));
    for (const [name, text] of Object.entries(contents)) await writeFile(path.join(dir, name), text);
    return (name) => openAsBlob(path.join(dir, name));
  }

  const csv = (rows: readonly [string, string][]): string => `text,label\n${rows.map(([text, label]) => `"${text.replace(/"/g, '""')}",${label}`).join('\n')}\n`;
  const sentences = (prefix: string, count: number): [string, string][] => Array.from({ length: count }, (_, i) => [`${prefix} sentence number ${i} about quarterly results`, i % 2 === 0 ? 'up' : 'down']);

  it('finds validation rows copied into another task’s training file, reports personal data, and audits the others when a task fails', async () => {
    const aValidation = sentences('Alpha held-out', 12);
    const openFile = await files({
      'a.csv': csv(sentences('Alpha', 40)),
      'a_valid.csv': csv(aValidation),
      'b.csv': csv([...sentences('Beta', 40), ...aValidation.slice(0, 5)]),
      'c.jsonl': [
        { instruction: 'Reply to the customer', output: 'Write to jane.doe@example.com or call +1 415 555 0100.' },
        { instruction: 'Store the card', output: 'Card 4111 1111 1111 1111 expires soon; see https://example.org/terms' },
        { instruction: 'Say hello', output: 'Hello!' },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    });
    try {
      const recipe = testRecipe([
        { name: 'a', source: { file: 'a.csv', validation_file: 'a_valid.csv' }, format: 'classification' },
        { name: 'b', source: { file: 'b.csv' }, format: 'classification', validation_fraction: 0 },
        { name: 'c', source: { file: 'c.jsonl' }, format: 'instruction', validation_fraction: 0 },
        { name: 'missing', source: { file: 'nowhere.csv' }, format: 'classification' },
      ]);
      const report = await auditRecipe(recipe, { tokenizer, openFile }, { terms });
      expect(report.failed).toEqual([expect.objectContaining({ task: 'missing', code: 'PREPARE_FILE_NOT_FOUND' })]);
      expect(Object.keys(report.tasks)).toEqual(['a', 'b', 'c']);
      const leaked = report.cross.leakage.find((entry) => entry.train_task === 'b' && entry.validation_task === 'a');
      expect(leaked?.count).toBe(5);
      expect(report.findings).toContainEqual(expect.objectContaining({ severity: 'error', kind: 'prepare', task: 'missing' }));
      expect(report.findings).toContainEqual(expect.objectContaining({ severity: 'error', kind: 'leakage', task: 'a' }));
      expect(report.tasks.c!.pii).toMatchObject({ email: 1, phone: 1, card: 1, url: 1 });
      expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'pii', task: 'c', severity: 'warning' }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('caches each task’s audit next to its tokenized data and reads it back', async () => {
    const openFile = await files({ 'a.csv': csv(sentences('Alpha', 30)) });
    try {
      const storage = await openFileStorage(path.join(dir, 'state'));
      const prepare = { tokenizer, openFile, storage, tokenizerIdentity: await tokenizerIdentity(await modelFiles()) };
      const recipe = testRecipe([{ name: 'a', source: { file: 'a.csv' }, format: 'classification' }]);
      const cold = await auditRecipe(recipe, prepare, { terms });
      const keys = (await storage.list('datasets')).map((info) => info.key).filter((key) => key.startsWith('tokenized/audit/'));
      expect(keys).toHaveLength(1);
      const audited: AuditProgress[] = [];
      const warm = await auditRecipe(recipe, prepare, { terms, onProgress: (event) => audited.push(event) });
      expect(warm).toEqual(cold);
      // A hit reports the task done at once, without a row-by-row pass.
      expect(audited.filter((event) => event.stage === 'audit')).toEqual([{ task: 'a', stage: 'audit', done: 30, total: 30 }]);
      await storage.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the audit\'s max_length finding against the model\'s context', () => {
  it('never suggests a max_length beyond the 128 positions of the fixture model, whose FPB sentences need more', async () => {
    const files = await modelFiles();
    const context = parseModelConfig(await readJsonFile(files, 'config.json')).maxPositionEmbeddings;
    expect(context).toBe(128);
    const tokenizer = await fixtureTokenizer();
    const fpb = { ...FPB_TASK, max_examples: 300 };
    const audit = (maxLength: number, contextLength?: number) =>
      auditRecipe(testRecipe([fpb], { max_length: maxLength }), { tokenizer, openFile: openRecipeFile }, { terms, ...(contextLength !== undefined ? { contextLength } : {}) });
    const lengthFinding = (report: Awaited<ReturnType<typeof audit>>) => report.findings.find((finding) => finding.kind === 'length');

    // Without the context the finding asks for the p99 length, which this model cannot take.
    const blind = await audit(64);
    expect(blind.failed).toEqual([]);
    const { p99, truncated_share } = blind.tasks.fpb!.lengths;
    expect(p99).toBeGreaterThan(context);
    expect(truncated_share).toBeGreaterThan(0.05);
    expect(lengthFinding(blind)?.change).toEqual({ type: 'set_max_length', value: p99 });

    // Below the context: raise it to the context, and say the longest rows will be cut anyway.
    const below = lengthFinding(await audit(64, context))!;
    expect(below.change).toEqual({ type: 'set_max_length', value: context });
    expect(below.action).toBe("raise max_length to 128, the model's context; shorten the longest rows or choose a model with a longer context for the rest");
    expect(below.message).toContain(`99% of them need ${p99} tokens or fewer, more than the model's context (128 tokens): rows longer than that will be cut`);

    // At the context (as a run clamps it): nothing in the recipe helps, so no change is offered.
    const at = lengthFinding(await audit(context, context))!;
    expect(at.change).toBeNull();
    expect(at.message).toContain("are cut at max_length, already the model's context (128 tokens)");
    expect(at.action).toBe('shorten the longest rows, or choose a model with a longer context');
  }, 60_000);
});
