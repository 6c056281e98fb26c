/**
 * Exact de-duplication on normalized content: two examples are duplicates when their text is equal
 * after Unicode NFC, collapsing runs of whitespace and trimming (so "Sales rose ." and "Sales  rose ."
 * are one example; case is kept, since it can carry meaning). The first occurrence is kept, and the
 * report counts the rest and lists where they were. Examples whose prompts match but whose answers
 * differ (the same sentence labelled twice, differently) are not duplicates; they are counted as
 * conflicts, for the user to look at.
 *
 * Keys are hashed so that memory does not hold a second copy of the data; on a hash match the
 * normalized contents are compared, so a hash collision never removes an example.
 */
import type { Example } from './example.ts';
import { SPLIT_NAMES, type SplitName, type Splits } from './split.ts';

export function normalizeForDuplicates(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** Everything the model sees and learns from. */
export function exampleContentKey(example: Example): string {
  switch (example.kind) {
    case 'text':
      return `text\u0000${normalizeForDuplicates(example.text)}`;
    case 'tokens':
      return `tokens\u0000${example.inputIds.join(',')}\u0000${example.labels.join(',')}`;
    case 'conversation':
      return `turns\u0000${example.turns.map((turn) => `${turn.role}${turn.train ? '+' : '-'}\u0001${normalizeForDuplicates(turn.content)}`).join('\u0002')}`;
  }
}

/** What a conversation asks (its untrained turns); undefined for examples without a prompt. */
export function examplePromptKey(example: Example): string | undefined {
  if (example.kind !== 'conversation') return undefined;
  return example.turns
    .filter((turn) => !turn.train)
    .map((turn) => `${turn.role}\u0001${normalizeForDuplicates(turn.content)}`)
    .join('\u0002');
}

export interface DuplicateReport {
  /** Examples removed as duplicates of an earlier one. */
  removed: number;
  /** The first removed ones: their row, and the row of the example they repeat. */
  removedRows: { row: number; sameAs: number }[];
  /** Examples with an earlier example's prompt but a different answer (kept). */
  conflicting: number;
  conflictingRows: { row: number; sameAs: number }[];
}

export interface DedupeOptions {
  /** How many rows each list of the report keeps; counts are exact. Default 20. */
  maxListed?: number;
}

export function deduplicate<T extends Example>(examples: readonly T[], options: DedupeOptions = {}): { kept: T[]; report: DuplicateReport } {
  const index = new ContentIndex<T>();
  const report = emptyReport();
  const maxListed = options.maxListed ?? 20;
  const prompts = new ContentIndex<T>();
  const kept: T[] = [];
  for (const example of examples) {
    const key = exampleContentKey(example);
    const earlier = index.find(key, exampleContentKey);
    if (earlier) {
      report.removed++;
      if (report.removedRows.length < maxListed) report.removedRows.push({ row: example.source.row, sameAs: earlier.source.row });
      continue;
    }
    index.add(key, example);
    const prompt = examplePromptKey(example);
    if (prompt !== undefined) {
      const samePrompt = prompts.find(prompt, (other) => examplePromptKey(other) ?? '');
      if (samePrompt) {
        report.conflicting++;
        if (report.conflictingRows.length < maxListed) report.conflictingRows.push({ row: example.source.row, sameAs: samePrompt.source.row });
      } else prompts.add(prompt, example);
    }
    kept.push(example);
  }
  return { kept, report };
}

/** Removes from `items` every example whose content is in `reference` (another split); returns those kept and the rows removed. */
export function removeOverlap<T extends Example>(items: readonly T[], reference: readonly Example[], options: DedupeOptions = {}): { kept: T[]; removed: number; removedRows: number[] } {
  const index = new ContentIndex<Example>();
  for (const example of reference) index.add(exampleContentKey(example), example);
  const maxListed = options.maxListed ?? 20;
  const kept: T[] = [];
  const removedRows: number[] = [];
  let removed = 0;
  for (const example of items) {
    if (index.find(exampleContentKey(example), exampleContentKey)) {
      removed++;
      if (removedRows.length < maxListed) removedRows.push(example.source.row);
    } else kept.push(example);
  }
  return { kept, removed, removedRows };
}

function emptyReport(): DuplicateReport {
  return { removed: 0, removedRows: [], conflicting: 0, conflictingRows: [] };
}

/** Items by the hash of a key; a lookup confirms a hash match by recomputing and comparing the key. */
class ContentIndex<T> {
  private readonly byHash = new Map<number, T[]>();

  add(key: string, item: T): void {
    const hash = cyrb53(key);
    const bucket = this.byHash.get(hash);
    if (bucket) bucket.push(item);
    else this.byHash.set(hash, [item]);
  }

  find(key: string, keyOf: (item: T) => string): T | undefined {
    return this.byHash.get(cyrb53(key))?.find((item) => keyOf(item) === key);
  }
}

/** cyrb53 (bryc, public domain): a fast 53-bit string hash; collisions are resolved by the caller. */
function cyrb53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export interface SplitsDuplicateReport {
  /** Duplicates within each split. */
  within: Record<SplitName, DuplicateReport>;
  /** Examples removed from a split because a later split (validation, then test) has them. */
  overlap: { from: SplitName; removed: number; removedRows: number[] }[];
}

/**
 * De-duplicates each split, then removes from train whatever validation or test also hold, and from
 * validation whatever test holds, so evaluation never scores an example the model trained on. The
 * evaluation splits are the ones left whole, so scores stay comparable with published ones.
 */
export function deduplicateSplits<T extends Example>(splits: Splits<T>, options: DedupeOptions = {}): { splits: Splits<T>; report: SplitsDuplicateReport } {
  const within = {} as Record<SplitName, DuplicateReport>;
  const deduped = {} as Splits<T>;
  for (const name of SPLIT_NAMES) {
    const { kept, report } = deduplicate(splits[name], options);
    deduped[name] = kept;
    within[name] = report;
  }
  const overlap: SplitsDuplicateReport['overlap'] = [];
  const fromValidation = removeOverlap(deduped.validation, deduped.test, options);
  deduped.validation = fromValidation.kept;
  const fromTrain = removeOverlap(deduped.train, [...deduped.validation, ...deduped.test], options);
  deduped.train = fromTrain.kept;
  overlap.push({ from: 'train', removed: fromTrain.removed, removedRows: fromTrain.removedRows });
  overlap.push({ from: 'validation', removed: fromValidation.removed, removedRows: fromValidation.removedRows });
  return { splits: deduped, report: { within, overlap } };
}
