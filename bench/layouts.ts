/**
 * Our engine stores images NCHW and filters OIHW (PyTorch's layouts); TF.js stores them NHWC and HWIO. Both
 * engines run in their own native layout; these permutations move values between the two for the inputs and for
 * the agreement checks.
 */

/** Permute a row-major array of shape `shape` so that new axis i is old axis perm[i]. */
export function permute(values: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  if (perm.length !== shape.length) throw new Error(`permute: perm [${perm.join(', ')}] does not fit shape [${shape.join(', ')}]`);
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  if (values.length !== s) throw new Error(`permute: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  const outShape = perm.map((p) => shape[p]!);
  const out = new Float32Array(s);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < s; o++) {
    let from = 0;
    for (let d = 0; d < rank; d++) from += index[d]! * strides[perm[d]!]!;
    out[o] = values[from]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < outShape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** [N, C, H, W] -> [N, H, W, C]. */
export const nchwToNhwc = (v: ArrayLike<number>, [n, c, h, w]: readonly number[]) => permute(v, [n!, c!, h!, w!], [0, 2, 3, 1]);

/** [O, I, KH, KW] -> [KH, KW, I, O]. */
export const oihwToHwio = (v: ArrayLike<number>, [o, i, kh, kw]: readonly number[]) => permute(v, [o!, i!, kh!, kw!], [2, 3, 1, 0]);
