import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../engine/io/safetensors.js';

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('safetensors encoding', () => {
  it('produces the hand-computed bytes for a small file', () => {
    // Two tensors: "b" U8[3] = 1,2,3 and "a" F32[1] = 1.0. The reference orders by descending dtype
    // alignment, so F32 "a" comes first at bytes [0,4) and U8 "b" follows at [4,7).
    const json =
      '{"__metadata__":{"format":"pt"},' +
      '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]}}';
    // The JSON is 32 + 53 + 52 = 137 bytes (metadata part, "a" entry with its comma, "b" entry with
    // the closing brace); 7 spaces of padding give 144, a multiple of 8.
    expect(json.length).toBe(137);
    // prettier-ignore
    const expected = Uint8Array.from([
      144, 0, 0, 0, 0, 0, 0, 0, // header length, u64 little-endian
      ...ascii(json),
      0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, // padding
      0x00, 0x00, 0x80, 0x3f, // 1.0f little-endian
      1, 2, 3,
    ]);
    const bytes = encodeSafetensors(
      { b: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }, a: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } },
      { format: 'pt' },
    );
    expect([...bytes]).toEqual([...expected]);
  });

  it('writes an empty file as the reference does', () => {
    // "{}" padded with six spaces to 8 bytes.
    expect([...encodeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]);
  });

  it('orders by dtype alignment, then by name, even for integer-like names', () => {
    const bytes = encodeSafetensors({
      '10': { dtype: 'U8', shape: [1], data: Uint8Array.of(1) },
      '2': { dtype: 'U8', shape: [1], data: Uint8Array.of(2) },
      z: { dtype: 'F64', shape: [], data: Float64Array.of(3) },
      y: { dtype: 'I32', shape: [2], data: Int32Array.of(4, 5) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    // F64 before I32 before U8; "10" < "2" as strings.
    expect(order).toEqual(['z', 'y', '10', '2']);
    expect((8 + n) % 8).toBe(0);
  });
});

describe('safetensors round trip', () => {
  it('returns equal copies for every supported array type, plus metadata', () => {
    const input = {
      w: { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.from([0.5, -1, 2, 3.25, 1e-8, -0]) },
      d: { dtype: 'F64' as const, shape: [2], data: Float64Array.from([Math.PI, -Infinity]) },
      i: { dtype: 'I32' as const, shape: [3], data: Int32Array.from([-2147483648, 0, 7]) },
      u: { dtype: 'U32' as const, shape: [1], data: Uint32Array.from([4294967295]) },
      q: { dtype: 'I64' as const, shape: [2], data: BigInt64Array.from([-(2n ** 63n), 42n]) },
      h: { dtype: 'F16' as const, shape: [1], data: Uint16Array.from([0x3c00]) },
      b: { dtype: 'U8' as const, shape: [0], data: new Uint8Array(0) },
      e: { dtype: 'I8' as const, shape: [2, 1], data: Int8Array.from([-128, 127]) },
    };
    const meta = { epoch: '3', ünïcode: 'värde "quoted"' };
    const bytes = encodeSafetensors(input, meta);
    const out = decodeSafetensors(bytes, 'rt.safetensors');
    expect(out.metadata).toEqual(meta);
    expect([...out.tensors.keys()].sort()).toEqual(Object.keys(input).sort());
    for (const [name, t] of Object.entries(input)) {
      const got = out.tensors.get(name)!;
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(got.data, name).toEqual(t.data);
      expect(got.data.buffer, name).not.toBe(bytes.buffer); // a copy
    }
    expect(Object.is((out.tensors.get('w')!.data as Float32Array)[5], -0)).toBe(true);
  });

  it('accepts any tensor order and a header written by another tool', () => {
    // U8 before F32 in the buffer, unpadded header: valid, just not what the reference writes.
    const json = '{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"y":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}';
    const bytes = Uint8Array.from([json.length, 0, 0, 0, 0, 0, 0, 0, ...ascii(json), 9, 0, 0, 0x80, 0x3f]);
    const out = decodeSafetensors(bytes);
    expect([...(out.tensors.get('x')!.data as Uint8Array)]).toEqual([9]);
    expect([...(out.tensors.get('y')!.data as Float32Array)]).toEqual([1]); // unaligned source, still read
  });
});

describe('safetensors validation', () => {
  const good = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
  const withHeader = (json: string, data: number[]) => {
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    return Uint8Array.from([padded.length, 0, 0, 0, 0, 0, 0, 0, ...ascii(padded), ...data]);
  };

  it('rejects corrupt files with a clear message naming the file', () => {
    const f = 'model.safetensors';
    expect(() => decodeSafetensors(good.subarray(0, 5), f)).toThrow(/^model\.safetensors: 5 bytes is too short/);
    expect(() => decodeSafetensors(good.subarray(0, 20), f)).toThrow(/^model\.safetensors: header length \d+ runs past the end/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1), f)).toThrow(
      /tensors need 8 data bytes but the file has 7 .*truncated/,
    );
    expect(() => decodeSafetensors(Uint8Array.from([...good, 0]), f)).toThrow(/1 bytes after the last tensor are not covered/);
    const huge = good.slice();
    huge[7] = 1;
    expect(() => decodeSafetensors(huge, f)).toThrow(/larger than the 100 MB limit/);
    expect(() => decodeSafetensors(withHeader('{"a":', []), f)).toThrow(/header is not valid UTF-8 JSON/);
    expect(() => decodeSafetensors(withHeader('[1]', []), f)).toThrow(/header must be a JSON object/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), f)).toThrow(
      /tensor "a": unknown dtype "F17"/,
    );
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), f)).toThrow(
      /tensor "a": data_offsets span 4 bytes, but F32\[2\] needs 8/,
    );
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}', []), f)).toThrow(/shape must be/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}', [0]), f)).toThrow(
      /end before they begin/,
    );
    expect(() =>
      decodeSafetensors(
        withHeader('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [0, 0, 0]),
        f,
      ),
    ).toThrow(/tensor "b" overlaps the previous tensor/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0]), f)).toThrow(
      /gap in the byte buffer before tensor "a"/,
    );
    expect(() => decodeSafetensors(withHeader('{"__metadata__":{"k":1}}', []), f)).toThrow(/metadata "k" is not a string/);
    const badUtf8 = withHeader('{"a":0}', []);
    badUtf8[9] = 0xff;
    expect(() => decodeSafetensors(badUtf8, f)).toThrow(/not valid UTF-8 JSON/);
  });

  it('refuses to encode inconsistent tensors', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /has 8 bytes, but F32\[3\] needs 12/,
    );
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/reserved/);
  });
});
