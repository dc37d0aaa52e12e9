import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, float32Values } from '../../src/index.js';

describe('safetensors', () => {
  it('round-trips names, shapes, values and metadata', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '__metadata__'), { maxLength: 6 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
        (names, metadata) => {
          const tensors = names.map((name, i) => ({ name, shape: [i + 1], data: Float32Array.from({ length: i + 1 }, (_, k) => k * 0.5 - i) }));
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
});
