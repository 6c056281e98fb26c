/**
 * safetensors, read lazily from a Blob (a browser File, a Node `fs.openAsBlob`, a cached download):
 * the header is parsed and checked against every rule of the format, and each tensor's bytes are
 * sliced out only when asked for, so a gigabyte file never sits in one ArrayBuffer.
 *
 * Rules (ENGINEERING.md §6, after the reference implementation): 8-byte little-endian header length,
 * at most 100,000,000; UTF-8 JSON object; data_offsets contiguous from 0 with no gap or overlap; each
 * tensor's byte length = elements × dtype size, without overflow; no bytes after the last tensor;
 * `__metadata__` maps strings to strings.
 */
import { CocktailError } from '../errors.ts';

export const MAX_HEADER_BYTES = 100_000_000;

/** Byte size per element of every safetensors dtype (the engine loads F32, F16 and BF16). */
export const SAFETENSORS_DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BYTES;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Offsets within the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  fileName: string;
  /** Where the data section starts in the file: 8 + header length. */
  dataStart: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  blob: Blob;
}

export class SafetensorsError extends CocktailError {
  constructor(fileName: string, problem: string, details: Record<string, unknown> = {}) {
    super('SAFETENSORS_INVALID', `${fileName}: ${problem}`, { file: fileName, ...details });
  }
}

export async function readSafetensorsHeader(blob: Blob, fileName: string): Promise<SafetensorsFile> {
  const fail = (problem: string, details?: Record<string, unknown>) => new SafetensorsError(fileName, problem, details);
  if (blob.size < 8) throw fail(`${blob.size} bytes is too short for a safetensors file (it starts with an 8-byte header length)`);
  const lengthView = new DataView(await blob.slice(0, 8).arrayBuffer());
  const headerLength = lengthView.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLength} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > blob.size) throw fail(`header length ${headerLength} runs past the end of the file (${blob.size} bytes): the file is truncated or not safetensors`);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await blob.slice(8, dataStart).arrayBuffer());
    header = JSON.parse(text);
  } catch (error) {
    throw fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('the header is not a JSON object');

  const metadata = parseMetadata((header as Record<string, unknown>).__metadata__, fail);
  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, parseEntry(name, raw, fail));
  }
  checkLayout([...tensors.values()], blob.size - dataStart, fail);
  return { fileName, dataStart, tensors, metadata, blob };
}

function parseMetadata(raw: unknown, fail: (problem: string) => Error): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('__metadata__ must be an object of strings');
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw fail(`__metadata__ value of "${key}" is ${typeof value}, not a string`);
  }
  return { ...(raw as Record<string, string>) };
}

function parseEntry(name: string, raw: unknown, fail: (problem: string, details?: Record<string, unknown>) => Error): TensorEntry {
  const bad = (problem: string) => fail(`tensor "${name}": ${problem}`, { tensor: name });
  if (typeof raw !== 'object' || raw === null) throw bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) throw bad(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
  let bytes = SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDType] as number;
  for (const dim of shape as number[]) {
    bytes *= dim;
    if (!Number.isSafeInteger(bytes)) throw bad(`shape [${shape.join(', ')}] overflows the byte count`);
  }
  if (end - begin !== bytes) throw bad(`holds ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${bytes}`);
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end };
}

function checkLayout(entries: TensorEntry[], dataBytes: number, fail: (problem: string, details?: Record<string, unknown>) => Error): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const entry of sorted) {
    if (entry.begin !== expected) {
      const kind = entry.begin > expected ? `a gap of ${entry.begin - expected} bytes before` : 'an overlap at';
      throw fail(`data_offsets are not contiguous: ${kind} tensor "${entry.name}" (offset ${entry.begin}, expected ${expected})`, { tensor: entry.name });
    }
    expected = entry.end;
  }
  if (expected > dataBytes) throw fail(`tensors need ${expected} bytes of data but the file has ${dataBytes}: the file is truncated`);
  if (expected < dataBytes) throw fail(`${dataBytes - expected} bytes follow the last tensor; a safetensors file may not have trailing bytes`);
}

/** The raw bytes of one tensor, read from the Blob on demand. */
export async function readTensorBytes(file: SafetensorsFile, name: string): Promise<Uint8Array> {
  const entry = file.tensors.get(name);
  if (!entry) throw new SafetensorsError(file.fileName, `has no tensor "${name}"`, { tensor: name });
  return new Uint8Array(await file.blob.slice(file.dataStart + entry.begin, file.dataStart + entry.end).arrayBuffer());
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: Uint8Array<ArrayBuffer>;
}

/**
 * Serializes tensors (in the given order) into safetensors bytes. The header is padded with spaces
 * to a multiple of 8 bytes, as the reference implementation does, so tensor data stays aligned.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Blob {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const tensor of tensors) {
    const expected = tensor.shape.reduce((n, d) => n * d, SAFETENSORS_DTYPE_BYTES[tensor.dtype] as number);
    if (tensor.data.byteLength !== expected) {
      throw new CocktailError('SAFETENSORS_WRITE', `tensor "${tensor.name}" has ${tensor.data.byteLength} bytes; ${tensor.dtype} [${tensor.shape.join(', ')}] needs ${expected}`, { tensor: tensor.name });
    }
    header[tensor.name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(json);
    json = spaced;
  }
  const length = new DataView(new ArrayBuffer(8));
  length.setBigUint64(0, BigInt(json.byteLength), true);
  return new Blob([length.buffer, json, ...tensors.map((t) => t.data)]);
}
