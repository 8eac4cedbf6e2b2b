/**
 * Reductions over any set of axes. The input is seen as [kept..., reduced...] through two stride lists, so no
 * transpose is materialised. One invocation reduces one (output, chunk) pair in a fixed order, so results are
 * deterministic. Long reductions are split into chunks and finished by further passes over the partials (the
 * engine chains the passes), which keeps every invocation's loop within the loop budget.
 *
 * NaN follows PyTorch: max and min return NaN when a NaN is reduced; argmax and argmin return the index of the
 * first NaN. Arg reductions carry (value, index) pairs: the first pass takes indices from the position, later
 * passes read them from the partials (in1), so chunked results equal unchunked ones exactly.
 */
import { kernel, linearGrid, type WgslScalar } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { decodeIndexWgsl, linearMainWgsl, vec4Count } from './wgsl.js';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

const WG = 64;

/** Identities of each value reduction (max/min start at -inf/+inf, so a row of infinities reduces to infinity). */
const INIT: Record<'sum' | 'max' | 'min', (t: WgslScalar) => string> = {
  sum: (t) => `${t}(0)`,
  max: (t) => (t === 'f32' ? '-infF()' : t === 'i32' ? '-2147483647 - 1' : '0u'),
  min: (t) => (t === 'f32' ? 'infF()' : t === 'i32' ? '2147483647' : '4294967295u'),
};

export function isArgReduce(op: ReduceOp): op is 'argmax' | 'argmin' {
  return op === 'argmax' || op === 'argmin';
}

/**
 * `keptRank`/`redRank` are compile-time ranks of the two views; `innerContiguous` means the reduced elements of
 * one output are consecutive in memory (reduced axes trailing), so the reduced offset is just the counter.
 * Arg reductions output values and indices; with `indexInput` the indices come from the `index` input.
 */
export function reduceProgram(
  op: ReduceOp,
  dtype: WgslScalar,
  keptRank: number,
  redRank: number,
  innerContiguous: boolean,
  indexInput = false,
) {
  const isArg = isArgReduce(op);
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  const float = dtype === 'f32';
  // A NaN wins over everything; once the accumulator is NaN an arg reduction keeps the first one.
  const better = float ? `(v ${cmp} acc || isNanF(v))` : `v ${cmp} acc`;
  const indexOf = indexInput ? 'index[baseOff + off]' : 'i32(r)';
  return kernel({
    name: op,
    key: `reduce|${op}|${dtype}|k${keptRank}|r${redRank}|${innerContiguous ? 'c' : 's'}${indexInput ? '|idx' : ''}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'nOut', type: 'u32' },
      { name: 'count', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'chunkLen', type: 'u32' },
      { name: 'keptShape', type: 'vec4u', count: vec4Count(keptRank) },
      { name: 'keptStride', type: 'vec4u', count: vec4Count(keptRank) },
      { name: 'redShape', type: 'vec4u', count: vec4Count(redRank) },
      { name: 'redStride', type: 'vec4u', count: vec4Count(redRank) },
    ],
    inputs: { x: dtype, ...(indexInput ? { index: 'i32' } : {}) },
    outputs: { values: dtype, ...(isArg ? { indices: 'i32' } : {}) },
    grid: linearGrid(WG, 'nOut', 'chunks'),
    body: () => {
      const base = decodeIndexWgsl('o', keptRank, 'keptShape', [{ acc: 'base', strides: 'keptStride' }]);
      const redOffset = innerContiguous
        ? 'let off = r;'
        : `var off = 0u; { ${decodeIndexWgsl('r', redRank, 'redShape', [{ acc: 'roff', strides: 'redStride' }])} off = roff; }`;
      const step = isArg
        ? `if (best < 0 || (${float ? '!isNanF(acc) && ' : ''}${better})) { acc = v; best = ${indexOf}; }`
        : op === 'sum'
          ? 'acc = acc + v;'
          : `if (${better}) { acc = v; }`;
      const init = isArg ? `${dtype}(0)` : INIT[op](dtype);
      return `${IEEE_WGSL}
${linearMainWgsl(WG)}
  if (i >= u.nOut * u.chunks) { return; }
  let o = i / u.chunks;
  let chunk = i % u.chunks;
  var baseOff = 0u;
  { ${base}
    baseOff = base; }
  var acc = ${init};
  var best = -1;
  let start = chunk * u.chunkLen;
  let end = min(start + u.chunkLen, u.count);
  for (var r = start; r < end; r = r + 1u) {
    ${redOffset}
    let v = x[baseOff + off];
    ${step}
  }
  values[i] = acc;${isArg ? '\n  indices[i] = best;' : ''}
}`;
    },
  });
}
