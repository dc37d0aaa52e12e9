import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type NamedTensor,
  type Safetensors,
  decodeSafetensors,
  encodeSafetensors,
  float32Values,
} from '../../src/index.js';

describe('safetensors', () => {
  it('round-trips names, shapes, values and metadata', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '__metadata__'),
          { maxLength: 6 },
        ),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
        (names, metadata) => {
          const tensors = names.map((name, i) => ({
            name,
            shape: [i + 1],
            data: Float32Array.from({ length: i + 1 }, (_, k) => k * 0.5 - i),
          }));
          const file = decodeSafetensors(encodeSafetensors(tensors, metadata));
          expect(file.metadata).toEqual(metadata);
          expect([...file.tensors.keys()]).toEqual(names);
          tensors.forEach((t) => {
            const found = file.tensors.get(t.name)!;
            expect(found.dtype).toBe('F32');
            expect(found.shape).toEqual(t.shape);
            expect(Array.from(float32Values(found))).toEqual(Array.from(t.data));
          });
        },
      ),
    );
  });

  it('lays out the header as the format says: u64 length, JSON, data on an 8-byte boundary', () => {
    const bytes = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, -2]) }], { step: '3' });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + length) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    expect(header).toEqual({ __metadata__: { step: '3' }, w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    expect(Array.from(new Float32Array(bytes.slice(8 + length).buffer))).toEqual([1, -2]);
  });

  it.each([
    ['too short', new Uint8Array(4), /too short/],
    ['a header past the end', new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0, 123]), /runs past the end/],
    ['a header that is not JSON', new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 123, 123]), /not JSON/],
  ])('rejects %s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });

  it('refuses non-F32 tensors in float32Values and shapes that do not hold the data in encodeSafetensors', () => {
    const file = decodeSafetensors(rawFile(header({ b: u8([2], 0, 2) }), 2));
    expect(() => float32Values(file.tensors.get('b')!)).toThrow(/^safetensors: float32Values of a U8 tensor/);
    expect(() => encodeSafetensors([{ name: 'w', shape: [3], data: new Float32Array(2) }])).toThrow(
      /^safetensors: tensor 'w' has 2 values; shape \[3\] holds 3/,
    );
    expect(() => encodeSafetensors([{ name: 'w', shape: [-1], data: new Float32Array(0) }])).toThrow(
      /^safetensors: tensor 'w' has shape \[-1\]/,
    );
  });

  it('accepts what the format allows: any dtype, unaligned and zero-size tensors, scalars, whitespace inside the JSON, names with quotes and braces', () => {
    const names = { quote: 'a"b', brace: '}{', backslash: 'c\\', integer: '10', unicode: 'é\u{1F600}' };
    const text = JSON.stringify(
      {
        __metadata__: { note: '{"x": 1}', 'k\\"': 'v' },
        [names.integer]: f32([1], 7, 11),
        [names.quote]: u8([3], 0, 3),
        [names.brace]: f32([], 3, 7),
        [names.backslash]: f32([0, 5], 7, 7),
        [names.unicode]: { shape: [2], data_offsets: [11, 15], dtype: 'F16' },
      },
      null,
      2,
    );
    const data = new Uint8Array(15);
    data.set(new Uint8Array(new Float32Array([-2.5]).buffer), 3);
    data.set(new Uint8Array(new Float32Array([6]).buffer), 7);
    const file = decodeSafetensors(rawFile(text + '   ', data));
    expect(file.metadata).toEqual({ note: '{"x": 1}', 'k\\"': 'v' });
    // Data order; JSON.parse alone would put '10' first. The zero-size tensor at 7 comes before the one that starts at 7.
    expect([...file.tensors.keys()]).toEqual([names.quote, names.brace, names.backslash, names.integer, names.unicode]);
    expect(Array.from(float32Values(file.tensors.get(names.brace)!))).toEqual([-2.5]);
    expect(Array.from(float32Values(file.tensors.get(names.integer)!))).toEqual([6]);
    expect(file.tensors.get(names.backslash)).toMatchObject({ dtype: 'F32', shape: [0, 5] });
    expect(file.tensors.get(names.unicode)!.bytes.byteLength).toBe(4);
    expect(decodeSafetensors(rawFile('{}', 0))).toEqual({ metadata: {}, tensors: new Map() });
  });

  // Each file breaks one rule of the format; the decoder before the strict one accepted most of them.
  const w = f32([2], 0, 8);
  it.each<[string, string | Uint8Array, number | Uint8Array, RegExp]>([
    // Byte ranges against shapes and dtypes.
    [
      'a span longer than the shape needs',
      header({ w: f32([2], 0, 12) }),
      12,
      /tensor 'w' has 12 bytes of data; shape \[2\] of F32 needs 8/,
    ],
    [
      'a span shorter than the shape needs',
      header({ w: f32([3], 0, 8) }),
      8,
      /tensor 'w' has 8 bytes of data; shape \[3\] of F32 needs 12/,
    ],
    [
      'an F32 span that is not a multiple of 4 bytes',
      header({ w: f32([1], 0, 6) }),
      6,
      /tensor 'w' has 6 bytes of data; shape \[1\] of F32 needs 4/,
    ],
    [
      'a scalar with no bytes',
      header({ w: f32([], 0, 0) }),
      0,
      /tensor 'w' has 0 bytes of data; shape \[\] of F32 needs 4/,
    ],
    [
      'a last tensor that runs past the end',
      header({ a: f32([1], 0, 4), b: f32([2], 4, 12) }),
      8,
      /tensor 'b' at \[4, 12\] runs past the end of the 8 bytes of data/,
    ],
    [
      'a gap between tensors',
      header({ a: f32([1], 0, 4), b: f32([1], 8, 12) }),
      12,
      /bytes \[4, 8\) of the data belong to no tensor \(a gap before tensor 'b'\)/,
    ],
    [
      'data that does not start at 0',
      header({ a: f32([1], 4, 8) }),
      8,
      /bytes \[0, 4\) of the data belong to no tensor/,
    ],
    [
      'overlapping ranges',
      header({ a: f32([2], 0, 8), b: f32([1], 4, 8) }),
      8,
      /tensor 'b' at \[4, 8\] overlaps tensor 'a' at \[0, 8\]/,
    ],
    [
      'the same range twice',
      header({ a: f32([2], 0, 8), b: f32([2], 0, 8) }),
      8,
      /tensor 'b' at \[0, 8\] overlaps tensor 'a'/,
    ],
    ['bytes after the last tensor', header({ w }), 12, /the last 4 of the 12 bytes of data belong to no tensor/],
    ['data and no tensors', '{}', 4, /the last 4 of the 4 bytes of data belong to no tensor/],
    // Keys named twice, which JSON.parse alone keeps the last of.
    [
      'a tensor named twice',
      `{"w":${JSON.stringify(w)},"w":${JSON.stringify(w)}}`,
      8,
      /^safetensors: the header names 'w' twice$/,
    ],
    [
      '__metadata__ twice',
      `{"__metadata__":{},"__metadata__":{},"w":${JSON.stringify(w)}}`,
      8,
      /the header names '__metadata__' twice$/,
    ],
    [
      'a key twice inside a tensor entry',
      '{"w":{"dtype":"F32","shape":[3],"shape":[2],"data_offsets":[0,8]}}',
      8,
      /the header names 'shape' twice in 'w'/,
    ],
    [
      'a key twice inside __metadata__',
      `{"__metadata__":{"step":"1","step":"2"},"w":${JSON.stringify(w)}}`,
      8,
      /the header names 'step' twice in '__metadata__'/,
    ],
    [
      'a key twice, once escaped',
      `{"a":${JSON.stringify(w)},"\\u0061":${JSON.stringify(w)}}`,
      8,
      /the header names 'a' twice/,
    ],
    // Entries that are not { dtype, shape, data_offsets }.
    ['a null entry', '{"w":null}', 0, /tensor 'w' is null, not an object \{ dtype, shape, data_offsets \}/],
    ['an array entry', '{"w":[]}', 0, /tensor 'w' is an array, not an object/],
    ['a number entry', '{"w":5}', 0, /tensor 'w' is 5, not an object/],
    ['a string entry', '{"w":"F32"}', 0, /tensor 'w' is "F32", not an object/],
    ['an entry without shape', header({ w: { dtype: 'F32', data_offsets: [0, 8] } }), 8, /tensor 'w' has no 'shape'/],
    [
      'an entry without data_offsets',
      header({ w: { dtype: 'F32', shape: [2] } }),
      8,
      /tensor 'w' has no 'data_offsets'/,
    ],
    [
      'an entry with an extra key',
      header({ w: { ...w, offsets: [0, 8] } }),
      8,
      /tensor 'w' has an unexpected key 'offsets'/,
    ],
    ['an unknown dtype', header({ w: { ...w, dtype: 'F17' } }), 8, /tensor 'w' has unknown dtype "F17"/],
    ['a lower-case dtype', header({ w: { ...w, dtype: 'f32' } }), 8, /tensor 'w' has unknown dtype "f32"/],
    [
      'a dtype that is an Object.prototype key',
      header({ w: { ...w, dtype: 'toString' } }),
      8,
      /tensor 'w' has unknown dtype "toString"/,
    ],
    ['a dtype that is not a string', header({ w: { ...w, dtype: 4 } }), 8, /tensor 'w' has unknown dtype 4/],
    [
      'a negative dimension',
      header({ w: f32([-2], 0, 8) }),
      8,
      /tensor 'w' has shape \[-2\]; dimensions must be whole numbers >= 0/,
    ],
    [
      'a fractional dimension',
      header({ w: f32([1.5, 2], 0, 12) }),
      12,
      /tensor 'w' has shape \[1.5,2\]; dimensions must be whole numbers/,
    ],
    ['a dimension that is a string', header({ w: f32(['2'], 0, 8) }), 8, /tensor 'w' has shape \["2"\]/],
    ['a shape that is not an array', header({ w: { ...w, shape: 2 } }), 8, /tensor 'w' has shape 2;/],
    [
      'data_offsets the wrong way round',
      header({ w: f32([0], 8, 0) }),
      8,
      /tensor 'w' has data_offsets \[8,0\]; expected \[begin, end\] with 0 <= begin <= end/,
    ],
    ['a negative data offset', header({ w: f32([1], -4, 0) }), 0, /tensor 'w' has data_offsets \[-4,0\]/],
    ['one data offset', header({ w: { ...w, data_offsets: [8] } }), 8, /tensor 'w' has data_offsets \[8\]/],
    [
      'data offsets past 2^53',
      header({ w: f32([0], 2 ** 60, 2 ** 60) }),
      0,
      /tensor 'w' has data_offsets \[\d+,\d+\]; expected \[begin, end\]/,
    ],
    // __metadata__.
    [
      'a number in __metadata__',
      `{"__metadata__":{"step":1},"w":${JSON.stringify(w)}}`,
      8,
      /__metadata__ 'step' is 1, not a string/,
    ],
    ['null in __metadata__', '{"__metadata__":{"a":"x","b":null}}', 0, /__metadata__ 'b' is null, not a string/],
    [
      'a tensor entry as __metadata__',
      header({ __metadata__: w }),
      8,
      /__metadata__ 'shape' is an array, not a string/,
    ],
    ['a null __metadata__', '{"__metadata__":null}', 0, /__metadata__ is null, not an object of strings/],
    ['an array __metadata__', '{"__metadata__":["a"]}', 0, /__metadata__ is an array, not an object of strings/],
    // The header's bytes.
    ['a header that starts with a space', ` ${header({ w })}`, 8, /the header does not begin with '\{'/],
    [
      'a header that starts with a byte-order mark',
      `\u{FEFF}${header({ w })}`,
      8,
      /the header does not begin with '\{'/,
    ],
    ['a header that is an array', '[]', 0, /the header does not begin with '\{'/],
    ['an empty header', '', 0, /the header does not begin with '\{'/],
    [
      'a header that is not UTF-8',
      bytesOf('{"__metadata__":{"k":"', [0xff], '"}}'),
      0,
      /the header is not valid UTF-8/,
    ],
    [
      'a header with an encoded surrogate',
      bytesOf('{"__metadata__":{"k":"', [0xed, 0xa0, 0x80], '"}}'),
      0,
      /the header is not valid UTF-8/,
    ],
    [
      'a header padded with a newline',
      `${header({ w })}\n`,
      8,
      /the header is padded with something other than spaces/,
    ],
    [
      'a header padded with a tab after spaces',
      `${header({ w })}  \t`,
      8,
      /the header is padded with something other than spaces/,
    ],
    ['a header padded with a zero byte', `${header({ w })}\0`, 8, /the header is not JSON/],
  ])('refuses %s', (_, headerText, data, message) => {
    expect(() => decodeSafetensors(rawFile(headerText, data))).toThrow(message);
    expect(() => decodeSafetensors(rawFile(headerText, data))).toThrow(/^safetensors: /);
  });

  it('refuses a header length one byte short or one byte long', () => {
    // Float 1.0000038 is stored as the bytes 20 00 80 3f: its first byte is a space.
    const good = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1.0000038, 2]) }], { k: 'v' });
    const length = Number(new DataView(good.buffer).getBigUint64(0, true));
    expect(good[8 + length - 1]).toBe(0x20); // the header is padded, so one byte short still parses
    expect(good[8 + length]).toBe(0x20); // and one byte long does too
    expect(decodeSafetensors(good).tensors.get('w')!.bytes.byteLength).toBe(8);
    expect(() => decodeSafetensors(withHeaderLength(good, length - 1))).toThrow(
      /^safetensors: the last 1 of the 9 bytes of data belong to no tensor/,
    );
    expect(() => decodeSafetensors(withHeaderLength(good, length + 1))).toThrow(
      /^safetensors: tensor 'w' at \[0, 8\] runs past the end of the 7 bytes of data/,
    );
  });

  it('refuses header lengths that cannot be right, clearly', () => {
    const good = encodeSafetensors([{ name: 'w', shape: [1], data: new Float32Array([1]) }]);
    expect(() => decodeSafetensors(withHeaderLength(good, 2n ** 64n - 1n))).toThrow(
      /^safetensors: header of 18446744073709551615 bytes runs past the end of the \d+-byte file \(the first 8 bytes are not a header length: is this a safetensors file\?\)/,
    );
    expect(() => decodeSafetensors(withHeaderLength(good, 2n ** 53n))).toThrow(/is this a safetensors file/);
    expect(() => decodeSafetensors(withHeaderLength(good, good.length - 7))).toThrow(
      /^safetensors: header of \d+ bytes runs past the end/,
    );
    expect(() => decodeSafetensors(withHeaderLength(good, 0))).toThrow(
      /^safetensors: the header does not begin with '\{'/,
    );
  });

  it('decodes any file encodeSafetensors writes to exactly what was encoded', () => {
    fc.assert(
      fc.property(safetensorsFile, ({ tensors, metadata }) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const file = decodeSafetensors(bytes);
        expect(file.metadata).toEqual(metadata);
        expect([...file.tensors.keys()]).toEqual(tensors.map((t) => t.name));
        for (const t of tensors) {
          const found = file.tensors.get(t.name)!;
          expect(found.dtype).toBe('F32');
          expect(found.shape).toEqual(t.shape);
          expect(found.bytes).toEqual(new Uint8Array(t.data.buffer)); // bit for bit, NaN payloads and -0 included
        }
        expectWellFormed(bytes, file);
      }),
    );
  });

  it('refuses a mutated file with a safetensors error, or decodes it to a file that follows every rule', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        mask: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('header length' as const),
        delta: fc.integer({ min: -16, max: 16 }).filter((d) => d !== 0),
      }),
      fc.record({
        kind: fc.constant('truncate' as const),
        at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    );
    fc.assert(
      fc.property(safetensorsFile, mutation, ({ tensors, metadata }, m) => {
        const good = encodeSafetensors(tensors, metadata);
        const dataStart = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
        let bad: Uint8Array;
        if (m.kind === 'flip') {
          bad = good.slice();
          bad[Math.floor(m.at * good.length)] ^= m.mask;
        } else if (m.kind === 'header length') bad = withHeaderLength(good, Math.max(0, dataStart - 8 + m.delta));
        else if (m.kind === 'truncate') bad = good.slice(0, Math.floor(m.at * good.length));
        else bad = Uint8Array.from([...good, ...m.extra]);
        let file: Safetensors;
        try {
          file = decodeSafetensors(bad);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/^safetensors: /);
          // A flipped data byte changes a value, never the layout; every other change breaks the layout.
          if (m.kind === 'flip') expect(Math.floor(m.at * good.length)).toBeLessThan(dataStart);
          return;
        }
        expect(m.kind).toBe('flip');
        expectWellFormed(bad, file);
      }),
      { numRuns: 1000 },
    );
  });
});

/** A file written by hand: the header's byte length, the header exactly as given (no padding added), then the data (bytes, or that many zeros). */
function rawFile(headerText: string | Uint8Array, data: number | Uint8Array): Uint8Array {
  const headerBytes = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const dataBytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + headerBytes.length + dataBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(dataBytes, 8 + headerBytes.length);
  return out;
}

const header = (entries: Record<string, unknown>) => JSON.stringify(entries);
const f32 = (shape: unknown[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
const u8 = (shape: number[], begin: number, end: number) => ({ dtype: 'U8', shape, data_offsets: [begin, end] });
const bytesOf = (before: string, raw: number[], after: string) =>
  Uint8Array.from([...new TextEncoder().encode(before), ...raw, ...new TextEncoder().encode(after)]);

function withHeaderLength(file: Uint8Array, length: number | bigint): Uint8Array {
  const copy = file.slice();
  new DataView(copy.buffer).setBigUint64(0, BigInt(length), true);
  return copy;
}

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

/**
 * Checks a decoded file against the format, independently of the decoder: the header is JSON
 * naming exactly the decoded tensors with their dtype, shape and offsets; metadata values are
 * strings; each range holds shape x dtype size bytes; the ranges, in the order given, tile the
 * data area with no gap, no overlap and nothing left over.
 */
function expectWellFormed(bytes: Uint8Array, file: Safetensors): void {
  const dataStart = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart)));
  expect(
    Object.keys(json)
      .filter((k) => k !== '__metadata__')
      .sort(),
  ).toEqual([...file.tensors.keys()].sort());
  expect(file.metadata).toEqual(json.__metadata__ ?? {});
  for (const value of Object.values(file.metadata)) expect(typeof value).toBe('string');
  let covered = 0;
  for (const [name, t] of file.tensors) {
    const begin = t.bytes.byteOffset - bytes.byteOffset - dataStart;
    const end = begin + t.bytes.byteLength;
    expect(t.bytes.buffer).toBe(bytes.buffer);
    expect(json[name]).toEqual({ dtype: t.dtype, shape: t.shape, data_offsets: [begin, end] });
    expect(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
    expect(t.bytes.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[t.dtype]);
    expect(begin).toBe(covered);
    covered = end;
  }
  expect(dataStart + covered).toBe(bytes.byteLength);
}

/** Random valid tensors (scalars, zero-size, names that need escaping or look like integers) and metadata. */
const safetensorsFile = fc.record({
  tensors: fc
    .uniqueArray(
      fc.tuple(
        fc
          .oneof(
            fc.string({ unit: 'binary', maxLength: 8 }),
            fc.nat(20).map(String),
            fc.constantFrom('"', '\\', '{', '}', ':', ' '),
          )
          .filter((n) => n !== '__metadata__'),
        fc.array(fc.nat(3), { maxLength: 3 }),
      ),
      { selector: ([name]) => name, maxLength: 6 },
    )
    .chain((named) =>
      fc.tuple(
        ...named.map(([name, shape]) =>
          fc
            .float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) })
            .map((data): NamedTensor => ({ name, shape, data })),
        ),
      ),
    ),
  metadata: fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 })),
});
