/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON (name -> { dtype, shape, data_offsets }, plus an optional
 * string map `__metadata__`), then the raw little-endian data. F32, BF16 and F16 are written here.
 */
import { decodeHalves, encodeHalves } from '../core/half.js';

/** The float dtypes written and read as values here. */
export type FloatDtype = 'F32' | 'BF16' | 'F16';

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  /** The values (for BF16 and F16, rounded to nearest; exact for values of that type). */
  data: Float32Array;
  /** Default F32. */
  dtype?: FloatDtype;
}

export interface DecodedTensor {
  dtype: string;
  shape: number[];
  /** The tensor's bytes, a view into the decoded buffer. */
  bytes: Uint8Array;
}

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Map<string, DecodedTensor>;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per element of each dtype the format defines. */
const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const names = new Set<string>(['__metadata__']);
  const entries: [string, unknown][] = [['__metadata__', metadata]];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string')
      throw new Error(`safetensors: __metadata__ '${key}' is ${describe(value)}, not a string`);
  }
  let offset = 0;
  const data = tensors.map((t) => toLittleEndianBytes(t.dtype ?? 'F32', t.data));
  for (const [i, t] of tensors.entries()) {
    if (names.has(t.name)) throw new Error(`safetensors: duplicate or reserved tensor name '${t.name}'`);
    names.add(t.name);
    if (!isShape(t.shape))
      throw new Error(
        `safetensors: tensor '${t.name}' has shape ${JSON.stringify(t.shape)}; dimensions must be whole numbers >= 0`,
      );
    if (product(t.shape) !== t.data.length)
      throw new Error(
        `safetensors: tensor '${t.name}' has ${t.data.length} values; shape [${t.shape.join(', ')}] holds ${product(t.shape)}`,
      );
    const dtype = t.dtype ?? 'F32';
    entries.push([t.name, { dtype, shape: [...t.shape], data_offsets: [offset, offset + data[i].byteLength] }]);
    offset += data[i].byteLength;
  }
  // Written entry by entry, not with JSON.stringify(Object.fromEntries(...)), so that the header
  // lists the tensors in data order even when a name looks like an integer (objects put those first).
  let json = `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
  // The header is padded with spaces so that the data starts on an 8-byte boundary.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const bytes of data) {
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors file, refusing (with an Error that starts with `safetensors: ` and names
 * the tensor or field) anything the format does not allow: a header that is not UTF-8 JSON
 * object text padded only with spaces, a key named twice, non-string metadata, an entry that is
 * not exactly { dtype, shape, data_offsets }, an unknown dtype, a byte range whose length is not
 * shape x dtype size, and ranges that do not tile the data area exactly (no gap, no overlap,
 * nothing after the last tensor). The tensors come in data order.
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (!(bytes instanceof Uint8Array)) throw new Error('safetensors: expected a Uint8Array');
  if (bytes.byteLength < 8) throw new Error(`safetensors: ${bytes.byteLength} bytes is too short for a header`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    const hint =
      headerLength > BigInt(Number.MAX_SAFE_INTEGER)
        ? ' (the first 8 bytes are not a header length: is this a safetensors file?)'
        : '';
    throw new Error(
      `safetensors: header of ${headerLength} bytes runs past the end of the ${bytes.byteLength}-byte file${hint}`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  const headerBytes = bytes.subarray(8, dataStart);
  // Checked on the bytes: TextDecoder would silently drop a leading byte-order mark.
  if (headerBytes[0] !== 0x7b) throw new Error("safetensors: the header does not begin with '{'");
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error('safetensors: the header is not valid UTF-8');
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new Error(`safetensors: the header is not JSON (${(error as Error).message})`);
  }
  // JSON text that begins with '{' and parses is an object followed only by JSON whitespace.
  if (!/\} *$/.test(text)) throw new Error('safetensors: the header is padded with something other than spaces');
  const names = headerKeys(text);

  const metadata = Object.hasOwn(header, '__metadata__') ? header.__metadata__ : {};
  if (!isObject(metadata))
    throw new Error(`safetensors: __metadata__ is ${describe(metadata)}, not an object of strings`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string')
      throw new Error(`safetensors: __metadata__ '${key}' is ${describe(value)}, not a string`);
  }

  const dataLength = bytes.byteLength - dataStart;
  const ranges = names
    .filter((name) => name !== '__metadata__')
    .map((name) => ({ name, ...checkEntry(name, header[name], dataLength) }));
  // Data order; for equal ranges (zero-size tensors), the order written in the header.
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const [i, r] of ranges.entries()) {
    if (r.begin > covered)
      throw new Error(
        `safetensors: bytes [${covered}, ${r.begin}) of the data belong to no tensor (a gap before tensor '${r.name}')`,
      );
    if (r.begin < covered) {
      const previous = ranges[i - 1];
      throw new Error(
        `safetensors: tensor '${r.name}' at [${r.begin}, ${r.end}] overlaps tensor '${previous.name}' at [${previous.begin}, ${previous.end}]`,
      );
    }
    covered = r.end;
  }
  if (covered !== dataLength)
    throw new Error(
      `safetensors: the last ${dataLength - covered} of the ${dataLength} bytes of data belong to no tensor`,
    );

  const tensors = new Map<string, DecodedTensor>();
  for (const r of ranges)
    tensors.set(r.name, {
      dtype: r.dtype,
      shape: r.shape,
      bytes: bytes.subarray(dataStart + r.begin, dataStart + r.end),
    });
  return { metadata: metadata as Record<string, string>, tensors };
}

/** One tensor's header entry, checked against the format and against the data area's length. */
function checkEntry(
  name: string,
  entry: unknown,
  dataLength: number,
): { dtype: string; shape: number[]; begin: number; end: number } {
  if (!isObject(entry))
    throw new Error(
      `safetensors: tensor '${name}' is ${describe(entry)}, not an object { dtype, shape, data_offsets }`,
    );
  for (const key of ENTRY_KEYS)
    if (!Object.hasOwn(entry, key)) throw new Error(`safetensors: tensor '${name}' has no '${key}'`);
  for (const key of Object.keys(entry))
    if (!ENTRY_KEYS.includes(key)) throw new Error(`safetensors: tensor '${name}' has an unexpected key '${key}'`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype))
    throw new Error(`safetensors: tensor '${name}' has unknown dtype ${describe(dtype)}`);
  if (!isShape(shape))
    throw new Error(
      `safetensors: tensor '${name}' has shape ${JSON.stringify(shape)}; dimensions must be whole numbers >= 0`,
    );
  if (!(
    Array.isArray(offsets) &&
    offsets.length === 2 &&
    offsets.every((o) => Number.isSafeInteger(o)) &&
    0 <= offsets[0] &&
    offsets[0] <= offsets[1]
  )) {
    throw new Error(
      `safetensors: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end`,
    );
  }
  const [begin, end] = offsets as number[];
  const needed = product(shape) * DTYPE_SIZES[dtype];
  if (end - begin !== needed) {
    throw new Error(
      `safetensors: tensor '${name}' has ${end - begin} bytes of data; shape [${shape.join(', ')}] of ${dtype} needs ${needed}`,
    );
  }
  if (end > dataLength)
    throw new Error(
      `safetensors: tensor '${name}' at [${begin}, ${end}] runs past the end of the ${dataLength} bytes of data`,
    );
  return { dtype, shape, begin, end };
}

/**
 * The header's top-level keys in the order written. JSON.parse keeps only the last of two equal
 * keys, which would let a file name a tensor (or a tensor's `shape`) twice and have readers
 * disagree on which one counts; so this walks the (already valid) JSON text and refuses a key
 * named twice in any one object. Keys are compared decoded: "a" and "\u0061" are the same key.
 */
function headerKeys(json: string): string[] {
  const open: { keys: Set<string>; within?: string }[] = [];
  const topLevel: string[] = [];
  let lastKey: string | undefined;
  for (let i = 0; i < json.length; i++) {
    if (json[i] === '{') open.push({ keys: new Set(), within: lastKey });
    else if (json[i] === '}') open.pop();
    else if (json[i] === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (' \t\n\r'.includes(json[next])) next++;
      if (json[next] === ':') {
        const key: string = JSON.parse(json.slice(i, end + 1));
        const { keys, within } = open[open.length - 1];
        if (keys.has(key))
          throw new Error(
            `safetensors: the header names '${key}' twice${within === undefined ? '' : ` in '${within}'`}`,
          );
        keys.add(key);
        if (open.length === 1) topLevel.push(key);
        lastKey = key;
      }
      i = end;
    }
  }
  return topLevel;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(JSON.stringify(value));
}

/** The float32 values of a decoded F32 tensor. */
export function float32Values(tensor: DecodedTensor): Float32Array {
  if (tensor.dtype !== 'F32') throw new Error(`safetensors: float32Values of a ${tensor.dtype} tensor`);
  return floatValues(tensor);
}

/** The values of a decoded F32, BF16 or F16 tensor, as f32. */
export function floatValues(tensor: DecodedTensor): Float32Array {
  const copy = tensor.bytes.slice();
  if (tensor.dtype === 'F32') {
    if (!littleEndian) swapBytes(copy, 4);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  if (tensor.dtype !== 'BF16' && tensor.dtype !== 'F16')
    throw new Error(`safetensors: floatValues of a ${tensor.dtype} tensor`);
  if (!littleEndian) swapBytes(copy, 2);
  return decodeHalves(tensor.dtype === 'BF16' ? 'bf16' : 'f16', new Uint16Array(copy.buffer, 0, copy.byteLength / 2));
}

function toLittleEndianBytes(dtype: FloatDtype, data: Float32Array): Uint8Array {
  const typed = dtype === 'F32' ? data : encodeHalves(dtype === 'BF16' ? 'bf16' : 'f16', data);
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (littleEndian) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, typed.BYTES_PER_ELEMENT);
  return copy;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
