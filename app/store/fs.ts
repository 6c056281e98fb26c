import { openAsBlob } from 'node:fs';
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocktailError } from '../errors.ts';
import { STORE_NAMES, checkKey, emptyUsage, type ItemInfo, type Json, type Storage, type StoreName } from './storage.ts';

/**
 * The Node implementation of Storage: one file per item under `<root>/<store>/`. A file is
 *   "CKST" | u32 format version | u32 header length | header JSON (ItemInfo) | bytes
 * written to a temporary name and renamed over the old one, so a crash leaves either the old item
 * or the new one, never a mix. File names are the key, percent-encoded.
 */
const MAGIC = 0x54534b43; // "CKST" little-endian
export const FILE_FORMAT_VERSION = 1;
const PREFIX_BYTES = 12;
const SUFFIX = '.item';

export async function openFileStorage(root: string): Promise<Storage> {
  await Promise.all(STORE_NAMES.map((name) => mkdir(join(root, name), { recursive: true })));
  await removeOrphanTemporaries(root);
  return new FileStorage(root);
}

const TEMPORARY = /\.item\.(\d+)\.\d+\.tmp$/;

/**
 * A process killed mid-put leaves its temporary file behind (the item itself is whole: the rename
 * never happened). Removes those of processes that are gone; a live writer's are left alone.
 */
export async function removeOrphanTemporaries(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const store of STORE_NAMES) {
    for (const name of await readdir(join(root, store)).catch(() => [] as string[])) {
      const pid = TEMPORARY.exec(name)?.[1];
      if (pid === undefined || processAlive(Number(pid))) continue;
      await rm(join(root, store, name), { force: true });
      removed.push(join(root, store, name));
    }
  }
  return removed;
}

/** Whether a process with this id exists (signal 0 only checks); EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The JSON header of an item file; `hasBytes` tells "no bytes" from zero bytes. */
interface ItemHeader {
  info: ItemInfo;
  hasBytes: boolean;
}

/** Percent-encodes everything but [A-Za-z0-9_-], so any key is one safe file name, and sorting is kept. */
function fileName(key: string): string {
  return key.replace(/[^A-Za-z0-9_-]/g, (ch) => Array.from(new TextEncoder().encode(ch), (b) => `%${b.toString(16).padStart(2, '0')}`).join('')) + SUFFIX;
}

function keyOf(name: string): string {
  return decodeURIComponent(name.slice(0, -SUFFIX.length));
}

class FileStorage implements Storage {
  private tempCounter = 0;

  constructor(private readonly root: string) {}

  private path(store: StoreName, key: string): string {
    return join(this.root, store, fileName(key));
  }

  locate(store: StoreName, key: string): string {
    checkKey(store, key);
    return this.path(store, key);
  }

  async put(store: StoreName, key: string, meta: Json, given?: Uint8Array | Blob): Promise<void> {
    checkKey(store, key);
    const bytes = given instanceof Blob ? new Uint8Array(await given.arrayBuffer()) : given;
    const info: ItemInfo = { key, meta, size: bytes?.byteLength ?? 0, updatedAt: Date.now() };
    const header = new TextEncoder().encode(JSON.stringify({ info, hasBytes: bytes !== undefined } satisfies ItemHeader));
    const prefix = new DataView(new ArrayBuffer(PREFIX_BYTES));
    prefix.setUint32(0, MAGIC, true);
    prefix.setUint32(4, FILE_FORMAT_VERSION, true);
    prefix.setUint32(8, header.byteLength, true);
    const target = this.path(store, key);
    const temporary = `${target}.${process.pid}.${this.tempCounter++}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.writev([new Uint8Array(prefix.buffer), header, ...(bytes ? [bytes] : [])]);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
  }

  async getInfo<Meta extends Json>(store: StoreName, key: string): Promise<ItemInfo<Meta> | undefined> {
    checkKey(store, key);
    return (await this.read(this.path(store, key), false))?.info as ItemInfo<Meta> | undefined;
  }

  async getBytes(store: StoreName, key: string): Promise<Uint8Array | undefined> {
    checkKey(store, key);
    return (await this.read(this.path(store, key), true))?.bytes;
  }

  async getBlob(store: StoreName, key: string): Promise<Blob | undefined> {
    checkKey(store, key);
    const path = this.path(store, key);
    const item = await this.read(path, false);
    if (!item?.bytesAt) return undefined;
    // A Blob over the file, sliced to the item's bytes: nothing is read until the Blob is.
    return (await openAsBlob(path)).slice(item.bytesAt, item.bytesAt + item.info.size);
  }

  async list<Meta extends Json>(store: StoreName, prefix = ''): Promise<ItemInfo<Meta>[]> {
    checkKey(store, 'list');
    const names = (await readdir(join(this.root, store))).filter((name) => name.endsWith(SUFFIX)).sort();
    const items: ItemInfo<Meta>[] = [];
    for (const name of names) {
      if (!keyOf(name).startsWith(prefix)) continue;
      let item;
      try {
        item = await this.read(join(this.root, store, name), false);
      } catch (error) {
        // One damaged file must not hide the others: it is listed with what is wrong with it.
        if (!(error instanceof CocktailError) || error.code !== 'STORAGE_CORRUPT') throw error;
        items.push({ key: keyOf(name), meta: null as Meta, size: 0, updatedAt: 0, problem: error.message });
        continue;
      }
      if (item) items.push(item.info as ItemInfo<Meta>);
    }
    return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(store: StoreName, key: string): Promise<boolean> {
    checkKey(store, key);
    const path = this.path(store, key);
    const existed = (await this.read(path, false)) !== undefined;
    await rm(path, { force: true });
    return existed;
  }

  async usage(): ReturnType<Storage['usage']> {
    const usage = emptyUsage();
    for (const name of STORE_NAMES) {
      for (const info of await this.list(name)) {
        usage[name].items += 1;
        usage[name].bytes += info.size;
      }
    }
    return usage;
  }

  async close(): Promise<void> {}

  /** The item's info, where its bytes start in the file (when it has bytes), and the bytes when asked for. */
  private async read(path: string, withBytes: boolean): Promise<{ info: ItemInfo; bytesAt?: number; bytes?: Uint8Array | undefined } | undefined> {
    let file;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const prefix = Buffer.alloc(PREFIX_BYTES);
      const { bytesRead } = await file.read(prefix, 0, PREFIX_BYTES, 0);
      const corrupt = (why: string) => new CocktailError('STORAGE_CORRUPT', `${path}: ${why}`, { path });
      if (bytesRead < PREFIX_BYTES || prefix.readUInt32LE(0) !== MAGIC) throw corrupt('not a Cocktail Studio storage item');
      const version = prefix.readUInt32LE(4);
      if (version !== FILE_FORMAT_VERSION) throw corrupt(`item format version ${version}; this build reads version ${FILE_FORMAT_VERSION}`);
      const headerLength = prefix.readUInt32LE(8);
      const header = Buffer.alloc(headerLength);
      if ((await file.read(header, 0, headerLength, PREFIX_BYTES)).bytesRead !== headerLength) throw corrupt('header cut short');
      const { info, hasBytes } = parseHeader(header.toString('utf8'), corrupt);
      if (!hasBytes) return { info };
      const bytesAt = PREFIX_BYTES + headerLength;
      if (!withBytes) return { info, bytesAt };
      const bytes = new Uint8Array(info.size);
      if ((await file.read(bytes, 0, info.size, bytesAt)).bytesRead !== info.size) throw corrupt(`expected ${info.size} bytes of data`);
      return { info, bytesAt, bytes };
    } finally {
      await file.close();
    }
  }
}

function parseHeader(text: string, corrupt: (why: string) => Error): ItemHeader {
  let header: ItemHeader;
  try {
    header = JSON.parse(text) as ItemHeader;
  } catch (error) {
    throw corrupt(`header is not valid JSON (${(error as Error).message})`);
  }
  const info = header?.info as Partial<ItemInfo> | undefined;
  if (typeof info !== 'object' || info === null || typeof info.key !== 'string' || !Number.isSafeInteger(info.size) || info.size! < 0 || typeof header.hasBytes !== 'boolean') {
    throw corrupt('header lacks the item\'s key, size or bytes flag');
  }
  return header;
}

/** For tests and tools: writes raw bytes to an item's path (simulating a torn or foreign file). */
export async function writeRawItemFile(root: string, store: StoreName, key: string, data: Uint8Array): Promise<void> {
  await writeFile(join(root, store, fileName(key)), data);
}
