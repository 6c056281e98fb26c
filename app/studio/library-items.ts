/**
 * The Library's view of storage: the user thinks in models, data sets, adapters and runs, while the
 * stores hold files, chunks and caches. A Hub model is many items — per file a manifest
 * `hub/{repo}@{revision}/{path}` and its chunks `…/{path}#000012` (app/model/hub.ts), models imported
 * from local files too (as `local/<name>` at revision "local"); these group them back into one item
 * each, with the keys to delete together and the bytes they take.
 */
import { CocktailError } from '../errors.ts';
import { HUB_DATASET_PREFIX } from '../data/import/hub-store.ts';
import type { ItemInfo, Json } from '../store/storage.ts';
import { isChunkKey } from '../store/stored-file.ts';
import { TASK_FILE_PREFIX } from '../store/keys.ts';
import { isCheckpointOf } from '../train/checkpoint.ts';

export interface ModelItem {
  /** The key prefix every item of the model starts with: "hub/owner/name@main/", "hub/local/name@local/". */
  prefix: string;
  kind: 'hub' | 'local';
  /** "owner/name@main", or "local/name". */
  label: string;
  /** As a recipe names it (model.source / model.revision). */
  source: string;
  revision: string;
  /** Files present (optional files the repository lacks are not counted). */
  files: number;
  bytes: number;
  /** Every file finished downloading; false while a download is partial (it resumes on the next load). */
  complete: boolean;
  keys: string[];
}

export interface DatasetFileItem {
  key: string;
  name: string;
  rows?: number;
  format?: string;
  bytes: number;
  updatedAt: number;
}

/** One split of a Hub data set kept in storage (app/data/import/hub-store.ts): its item, files and chunks. */
export interface HubSplitItem {
  /** The split's own key; every key of the split starts with it. */
  key: string;
  repo: string;
  config: string;
  split: string;
  /** Parquet files of the split. */
  files: number;
  bytes: number;
  /** Every file finished downloading; false while a download is partial (it resumes on the next read). */
  complete: boolean;
  keys: string[];
  updatedAt: number;
}

export interface CacheItem {
  /** What the cache holds, for people. */
  label: string;
  items: number;
  bytes: number;
  keys: string[];
}

export interface AdapterItem {
  key: string;
  /** The run that trained it; undefined for an imported adapter. */
  runId?: string;
  name: string;
  /** The name the user gave it in the Library; the key stays, as recipes and evaluations name it. */
  label?: string;
  baseModel?: string;
  /** What a Python user must set before loading it (a model opened from a folder without a Hub name). */
  baseModelNote?: string;
  r?: number;
  steps?: number;
  bytes: number;
  updatedAt: number;
}

/** Groups the "models" store's items into one item per model, sorted by label. */
export function groupModelItems(infos: readonly ItemInfo[]): ModelItem[] {
  const models = new Map<string, ModelItem>();
  for (const info of infos) {
    const identity = modelIdentity(info.key);
    if (!identity) continue;
    let model = models.get(identity.prefix);
    if (!model) {
      model = { ...identity, files: 0, bytes: 0, complete: true, keys: [] };
      models.set(identity.prefix, model);
    }
    model.keys.push(info.key);
    model.bytes += info.size;
    if (isChunkKey(info.key)) continue;
    const meta = info.meta as { url?: unknown; complete?: unknown } | null;
    // A manifest of an optional file the model does not have takes no room and is no file.
    if (meta?.url === 'absent') continue;
    if (meta?.complete !== true) model.complete = false;
    model.files++;
  }
  return [...models.values()].sort((a, b) => a.label.localeCompare(b.label));
}

function modelIdentity(key: string): Omit<ModelItem, 'files' | 'bytes' | 'complete' | 'keys'> | undefined {
  const hub = key.match(/^hub\/([^@]+)@([^/]+)\//);
  if (!hub) return undefined;
  const [prefix, source, revision] = hub as unknown as [string, string, string];
  // Models imported from local files live in the same layout as `local/<name>` at revision "local".
  if (source.startsWith('local/') && revision === 'local') return { prefix, kind: 'local', label: source, source, revision };
  return { prefix, kind: 'hub', label: `${source}@${revision}`, source, revision };
}

const CACHE_LABELS: Record<string, string> = {
  'tokenized/': 'Tokenized tasks (made again when needed)',
  'rows/': 'Parsed task files (made again when needed)',
};

/**
 * The "datasets" store: files the user imported (`file/<name>`) and Hub data set splits are items of
 * their own; everything else is a cache the studio rebuilds on demand, shown as one line per kind.
 */
export function groupDatasetItems(infos: readonly ItemInfo[]): { files: DatasetFileItem[]; hubSplits: HubSplitItem[]; caches: CacheItem[] } {
  const files: DatasetFileItem[] = [];
  const hubInfos: ItemInfo[] = [];
  const caches = new Map<string, CacheItem>();
  for (const info of infos) {
    if (info.key.startsWith(TASK_FILE_PREFIX)) {
      const meta = (info.meta ?? {}) as { rows?: Json; format?: Json };
      files.push({
        key: info.key,
        name: info.key.slice(TASK_FILE_PREFIX.length),
        ...(typeof meta.rows === 'number' ? { rows: meta.rows } : {}),
        ...(typeof meta.format === 'string' ? { format: meta.format } : {}),
        bytes: info.size,
        updatedAt: info.updatedAt,
      });
      continue;
    }
    if (info.key.startsWith(HUB_DATASET_PREFIX)) {
      hubInfos.push(info);
      continue;
    }
    const prefix = Object.keys(CACHE_LABELS).find((p) => info.key.startsWith(p));
    const label = prefix ? CACHE_LABELS[prefix]! : 'Other cached data';
    const cache = caches.get(label) ?? { label, items: 0, bytes: 0, keys: [] };
    cache.items++;
    cache.bytes += info.size;
    cache.keys.push(info.key);
    caches.set(label, cache);
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  return { files, hubSplits: groupHubSplits(hubInfos), caches: [...caches.values()] };
}

/**
 * A split's own item is `hub-datasets/{repo}/{config}/{split}` with meta {files, complete}; its files
 * and chunks lie under that key plus "/". Items of no known split (a split item deleted half way) are
 * left out, and a split whose item is missing never shows.
 */
function groupHubSplits(infos: readonly ItemInfo[]): HubSplitItem[] {
  const splits = new Map<string, HubSplitItem>();
  for (const info of infos) {
    const meta = info.meta as { files?: unknown; complete?: unknown } | null;
    if (!Array.isArray(meta?.files)) continue;
    const path = info.key.slice(HUB_DATASET_PREFIX.length).split('/');
    if (path.length < 3) continue;
    const [split, config] = [path.pop()!, path.pop()!];
    splits.set(info.key, { key: info.key, repo: path.join('/'), config, split, files: meta.files.length, bytes: 0, complete: meta.complete === true, keys: [info.key], updatedAt: info.updatedAt });
  }
  for (const info of infos) {
    if (splits.has(info.key)) continue;
    // A file is `{split key}/{split directory}/{shard}.parquet`, its chunks the same plus `#000012`.
    const owner = splits.get(info.key.split('/').slice(0, -2).join('/'));
    if (!owner) continue;
    owner.keys.push(info.key);
    owner.bytes += info.size;
  }
  return [...splits.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export const MAX_NAME_LENGTH = 120;

/** A name typed to rename a run or an adapter, trimmed; a typed error says what is wrong with it. */
export function checkedName(text: string, what: string): string {
  const name = text.trim();
  if (name === '') throw new CocktailError('NAME_INVALID', `The ${what}'s new name is empty; type a name, or cancel to keep the old one.`, { field: 'name' });
  if (name.length > MAX_NAME_LENGTH) throw new CocktailError('NAME_INVALID', `The ${what}'s new name has ${name.length} characters; at most ${MAX_NAME_LENGTH} fit.`, { field: 'name' });
  return name;
}

/** The "adapters" store as a list, newest first; meta as runs write it ({runId, name, baseModel, r, steps}). */
export function adapterItems(infos: readonly ItemInfo[]): AdapterItem[] {
  return infos
    .map((info): AdapterItem => {
      const meta = (info.meta ?? {}) as Record<string, Json | undefined>;
      const slash = info.key.lastIndexOf('/');
      return {
        key: info.key,
        ...(typeof meta.runId === 'string' ? { runId: meta.runId } : {}),
        name: typeof meta.name === 'string' ? meta.name : info.key.slice(slash + 1),
        ...(typeof meta.label === 'string' && meta.label !== '' ? { label: meta.label } : {}),
        ...(typeof meta.baseModel === 'string' ? { baseModel: meta.baseModel } : {}),
        ...(typeof meta.baseModelNote === 'string' ? { baseModelNote: meta.baseModelNote } : {}),
        ...(typeof meta.r === 'number' ? { r: meta.r } : {}),
        ...(typeof meta.steps === 'number' ? { steps: meta.steps } : {}),
        bytes: info.size,
        updatedAt: info.updatedAt,
      };
    })
    .sort((a, b) => b.updatedAt - a.updatedAt || a.key.localeCompare(b.key));
}

/** What else belongs to a run: its checkpoints (the newest few it keeps) and the adapters it exported. */
export function runBelongings<Checkpoint extends { key: string }>(runId: string, adapters: readonly AdapterItem[], checkpoints: readonly Checkpoint[]): { checkpoints: Checkpoint[]; adapters: AdapterItem[] } {
  return {
    checkpoints: checkpoints.filter((info) => isCheckpointOf(info.key, runId)),
    adapters: adapters.filter((adapter) => adapter.runId === runId || adapter.key.startsWith(`${runId}/`)),
  };
}

/** A file name from a run or adapter name: letters, digits, dot, dash and underscore only. */
export function safeFileName(name: string): string {
  return name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'adapter';
}

/** The PEFT zip's file name for an adapter: `<run>-<name>-peft.zip`. */
export function peftZipName(adapter: Pick<AdapterItem, 'key' | 'runId' | 'name'>): string {
  const run = adapter.runId ?? adapter.key.split('/')[0] ?? 'adapter';
  return `${safeFileName(run)}-${safeFileName(adapter.name)}-peft.zip`;
}

/** The adapter the Playground starts with: the newest one a run trained for this model. */
export function latestRunAdapter(adapters: readonly AdapterItem[], model: string): AdapterItem | undefined {
  return [...adapters].sort((a, b) => b.updatedAt - a.updatedAt).find((adapter) => adapter.runId !== undefined && (adapter.baseModel === undefined || adapter.baseModel === model));
}
