/** Element types: f32 for values, i32/u32 for labels and indices. All are 4 bytes wide. */
export type DType = 'f32' | 'i32' | 'u32';

export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

export function typedArrayFor(dtype: DType, source: ArrayBuffer | number): AnyTypedArray {
  switch (dtype) {
    case 'f32':
      return typeof source === 'number' ? new Float32Array(source) : new Float32Array(source);
    case 'i32':
      return typeof source === 'number' ? new Int32Array(source) : new Int32Array(source);
    case 'u32':
      return typeof source === 'number' ? new Uint32Array(source) : new Uint32Array(source);
  }
}

export function dtypeOfArray(a: ArrayBufferView): DType | null {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  return null;
}
