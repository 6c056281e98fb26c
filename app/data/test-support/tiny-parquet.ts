/**
 * A minimal Parquet writer for tests only. hyparquet reads but does not write, no installed package
 * writes Parquet, and a binary fixture would be one more file nobody can read, so the tests build
 * their Parquet bytes here from the format specification (apache/parquet-format, Thrift compact
 * protocol): uncompressed data pages v1, PLAIN values, RLE levels, one page per column chunk.
 * Column kinds: strings (optionally with nulls), int32, int64, and lists of int32 (the shape of
 * pre-tokenized input_ids), which is enough to exercise the importer on real Parquet structure.
 */
export type TinyColumn =
  | { name: string; kind: 'string'; values: readonly (string | null)[] }
  | { name: string; kind: 'int32'; values: readonly number[] }
  | { name: string; kind: 'int64'; values: readonly bigint[] }
  | { name: string; kind: 'int32-list'; values: readonly (readonly number[])[] };

export interface TinyParquetOptions {
  /** Rows per row group (default: all rows in one group). */
  rowGroupSize?: number;
}

const ThriftType = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;
type ThriftType = (typeof ThriftType)[keyof typeof ThriftType];

const PARQUET_BYTE_ARRAY = 6;
const PARQUET_INT32 = 1;
const PARQUET_INT64 = 2;
const REQUIRED = 0;
const OPTIONAL = 1;
const REPEATED = 2;
const CONVERTED_UTF8 = 0;
const CONVERTED_LIST = 3;
const ENCODING_PLAIN = 0;
const ENCODING_RLE = 3;

export function writeTinyParquet(columns: readonly TinyColumn[], options: TinyParquetOptions = {}): Uint8Array<ArrayBuffer> {
  const rowCount = columns[0]?.values.length ?? 0;
  if (rowCount === 0) throw new Error('tiny-parquet needs at least one column and one row');
  for (const column of columns) {
    if (column.values.length !== rowCount) throw new Error(`column ${column.name} has ${column.values.length} values, expected ${rowCount}`);
  }
  const groupSize = options.rowGroupSize ?? rowCount;
  const out: number[] = [...ascii('PAR1')];
  const rowGroups: { chunks: { offset: number; size: number; numValues: number; column: TinyColumn }[]; rows: number }[] = [];
  for (let start = 0; start < rowCount; start += groupSize) {
    const end = Math.min(start + groupSize, rowCount);
    const chunks = columns.map((column) => {
      const { data, numValues } = encodeColumnPage(column, start, end);
      const header = new CompactWriter();
      header.i32(1, 0); // DATA_PAGE
      header.i32(2, data.length);
      header.i32(3, data.length);
      header.structBegin(5);
      header.i32(1, numValues);
      header.i32(2, ENCODING_PLAIN);
      header.i32(3, ENCODING_RLE);
      header.i32(4, ENCODING_RLE);
      header.structEnd();
      header.stop();
      const offset = out.length;
      out.push(...header.bytes, ...data);
      return { offset, size: out.length - offset, numValues, column };
    });
    rowGroups.push({ chunks, rows: end - start });
  }

  const meta = new CompactWriter();
  meta.i32(1, 1);
  const schema = schemaElements(columns);
  meta.listBegin(2, ThriftType.STRUCT, schema.length);
  for (const element of schema) {
    meta.elementBegin();
    if (element.type !== undefined) meta.i32(1, element.type);
    if (element.repetition !== undefined) meta.i32(3, element.repetition);
    meta.binary(4, ascii(element.name));
    if (element.children !== undefined) meta.i32(5, element.children);
    if (element.converted !== undefined) meta.i32(6, element.converted);
    meta.elementEnd();
  }
  meta.i64(3, BigInt(rowCount));
  meta.listBegin(4, ThriftType.STRUCT, rowGroups.length);
  for (const group of rowGroups) {
    meta.elementBegin();
    meta.listBegin(1, ThriftType.STRUCT, group.chunks.length);
    for (const chunk of group.chunks) {
      meta.elementBegin();
      meta.i64(2, BigInt(chunk.offset));
      meta.structBegin(3);
      meta.i32(1, physicalType(chunk.column));
      meta.listBegin(2, ThriftType.I32, 2);
      meta.rawI32(ENCODING_PLAIN);
      meta.rawI32(ENCODING_RLE);
      meta.listBegin(3, ThriftType.BINARY, leafPath(chunk.column).length);
      for (const part of leafPath(chunk.column)) meta.rawBinary(ascii(part));
      meta.i32(4, 0); // UNCOMPRESSED
      meta.i64(5, BigInt(chunk.numValues));
      meta.i64(6, BigInt(chunk.size));
      meta.i64(7, BigInt(chunk.size));
      meta.i64(9, BigInt(chunk.offset));
      meta.structEnd();
      meta.elementEnd();
    }
    meta.i64(2, BigInt(group.chunks.reduce((sum, chunk) => sum + chunk.size, 0)));
    meta.i64(3, BigInt(group.rows));
    meta.elementEnd();
  }
  meta.binary(6, ascii('cocktail-studio tiny-parquet (tests)'));
  meta.stop();
  out.push(...meta.bytes, ...le32(meta.bytes.length), ...ascii('PAR1'));
  return Uint8Array.from(out);
}

interface SchemaNode {
  name: string;
  type?: number;
  repetition?: number;
  children?: number;
  converted?: number;
}

function schemaElements(columns: readonly TinyColumn[]): SchemaNode[] {
  const nodes: SchemaNode[] = [{ name: 'schema', children: columns.length }];
  for (const column of columns) {
    if (column.kind === 'int32-list') {
      // The standard three-level LIST: required group (LIST) { repeated group list { required int32 element } }
      nodes.push({ name: column.name, repetition: REQUIRED, children: 1, converted: CONVERTED_LIST });
      nodes.push({ name: 'list', repetition: REPEATED, children: 1 });
      nodes.push({ name: 'element', type: PARQUET_INT32, repetition: REQUIRED });
    } else if (column.kind === 'string') {
      const nullable = column.values.some((value) => value === null);
      nodes.push({ name: column.name, type: PARQUET_BYTE_ARRAY, repetition: nullable ? OPTIONAL : REQUIRED, converted: CONVERTED_UTF8 });
    } else {
      nodes.push({ name: column.name, type: physicalType(column), repetition: REQUIRED });
    }
  }
  return nodes;
}

function physicalType(column: TinyColumn): number {
  if (column.kind === 'string') return PARQUET_BYTE_ARRAY;
  if (column.kind === 'int64') return PARQUET_INT64;
  return PARQUET_INT32;
}

function leafPath(column: TinyColumn): string[] {
  return column.kind === 'int32-list' ? [column.name, 'list', 'element'] : [column.name];
}

function encodeColumnPage(column: TinyColumn, start: number, end: number): { data: number[]; numValues: number } {
  const data: number[] = [];
  if (column.kind === 'string') {
    const values = column.values.slice(start, end);
    if (column.values.some((value) => value === null)) data.push(...levels(values.map((value) => (value === null ? 0 : 1))));
    for (const value of values) {
      if (value === null) continue;
      const bytes = new TextEncoder().encode(value);
      data.push(...le32(bytes.length), ...bytes);
    }
    return { data, numValues: values.length };
  }
  if (column.kind === 'int32') {
    for (const value of column.values.slice(start, end)) data.push(...le32(value));
    return { data, numValues: end - start };
  }
  if (column.kind === 'int64') {
    for (const value of column.values.slice(start, end)) data.push(...le64(value));
    return { data, numValues: end - start };
  }
  const lists = column.values.slice(start, end);
  const repetition: number[] = [];
  const definition: number[] = [];
  for (const list of lists) {
    if (list.length === 0) throw new Error('tiny-parquet writes non-empty lists only');
    list.forEach((_, i) => {
      repetition.push(i === 0 ? 0 : 1);
      definition.push(1);
    });
  }
  data.push(...levels(repetition), ...levels(definition));
  for (const list of lists) for (const value of list) data.push(...le32(value));
  return { data, numValues: repetition.length };
}

/** Levels of bit width 1 as RLE runs of the RLE/bit-packing hybrid, prefixed by their byte length. */
function levels(values: readonly number[]): number[] {
  const runs: number[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    runs.push(...varint((j - i) << 1), values[i]!);
    i = j;
  }
  return [...le32(runs.length), ...runs];
}

class CompactWriter {
  readonly bytes: number[] = [];
  private lastField = 0;
  private readonly stack: number[] = [];

  i32(id: number, value: number): void {
    this.field(id, ThriftType.I32);
    this.rawI32(value);
  }

  i64(id: number, value: bigint): void {
    this.field(id, ThriftType.I64);
    this.bytes.push(...varintBig((value << 1n) ^ (value >> 63n)));
  }

  binary(id: number, value: Uint8Array): void {
    this.field(id, ThriftType.BINARY);
    this.rawBinary(value);
  }

  rawI32(value: number): void {
    this.bytes.push(...varint(((value << 1) ^ (value >> 31)) >>> 0));
  }

  rawBinary(value: Uint8Array): void {
    this.bytes.push(...varint(value.length), ...value);
  }

  structBegin(id: number): void {
    this.field(id, ThriftType.STRUCT);
    this.elementBegin();
  }

  structEnd(): void {
    this.elementEnd();
  }

  /** A struct inside a list: its field ids start afresh. */
  elementBegin(): void {
    this.stack.push(this.lastField);
    this.lastField = 0;
  }

  elementEnd(): void {
    this.stop();
    this.lastField = this.stack.pop() ?? 0;
  }

  listBegin(id: number, elementType: ThriftType, size: number): void {
    this.field(id, ThriftType.LIST);
    if (size < 15) this.bytes.push((size << 4) | elementType);
    else this.bytes.push(0xf0 | elementType, ...varint(size));
  }

  stop(): void {
    this.bytes.push(0);
  }

  private field(id: number, type: ThriftType): void {
    const delta = id - this.lastField;
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else this.bytes.push(type, ...varint(((id << 1) ^ (id >> 15)) & 0xffff));
    this.lastField = id;
  }
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function varintBig(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function le64(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  for (let i = 0; i < 8; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
