/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON (name -> { dtype, shape, data_offsets }, plus an optional
 * string map `__metadata__`), then the raw little-endian data. Only F32 is written here.
 */

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
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

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const names = new Set<string>(['__metadata__']);
  const entries: [string, unknown][] = [['__metadata__', metadata]];
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`safetensors: duplicate or reserved tensor name '${t.name}'`);
    names.add(t.name);
    entries.push([t.name, { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  const header = Object.fromEntries(entries);
  // The header is padded with spaces so that the data starts on an 8-byte boundary.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(toLittleEndianBytes(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (!(bytes instanceof Uint8Array)) throw new Error('safetensors: expected a Uint8Array');
  if (bytes.byteLength < 8) throw new Error(`safetensors: ${bytes.byteLength} bytes is too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) throw new Error(`safetensors: header of ${headerLength} bytes runs past the end of the ${bytes.byteLength}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new Error(`safetensors: the header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors: the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, DecodedTensor>();
  // In data order: JSON object keys do not keep theirs (integer-like names come first).
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
  const begin = (entry: unknown) => ((entry as { data_offsets?: number[] })?.data_offsets?.[0] ?? 0);
  entries.sort((a, b) => begin(a[1]) - begin(b[1]));
  for (const [name, entry] of entries) {
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const offsets = e.data_offsets;
    if (typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(offsets) || offsets.length !== 2) {
      throw new Error(`safetensors: tensor '${name}' lacks dtype, shape or data_offsets`);
    }
    const [begin, end] = offsets as number[];
    if (!(Number.isInteger(begin) && Number.isInteger(end) && 0 <= begin && begin <= end && dataStart + end <= bytes.byteLength)) {
      throw new Error(`safetensors: tensor '${name}' has data offsets [${begin}, ${end}] outside the file`);
    }
    tensors.set(name, { dtype: e.dtype, shape: e.shape as number[], bytes: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  return { metadata, tensors };
}

/** The float32 values of a decoded F32 tensor. */
export function float32Values(tensor: DecodedTensor): Float32Array {
  const copy = tensor.bytes.slice();
  if (!littleEndian) swapBytes(copy);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

function toLittleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndian) return bytes;
  const copy = bytes.slice();
  swapBytes(copy);
  return copy;
}

function swapBytes(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] = [bytes[i + 3], bytes[i + 2], bytes[i + 1], bytes[i]];
  }
}
