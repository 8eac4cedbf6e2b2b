/**
 * Reductions over any set of axes. The input is seen as [kept..., reduced...] through two stride lists, so no
 * transpose is materialised. One invocation reduces one (output, chunk) pair in a fixed order, so results are
 * deterministic. Long reductions over few outputs are split into chunks and finished by a second pass over the
 * partials (the engine chains the passes).
 */
import type { KernelProgram, WgslScalar } from './program.js';
import { decodeIndexWgsl, linearMainWgsl, vec4Count } from './wgsl.js';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

export const REDUCE_WORKGROUP = 64;

/** Infinities built at run time: a constant infinity fails WGSL validation. */
const F32_NEG_INF = 'bitcast<f32>(0xff800000u | (u.count & 0u))';
const F32_POS_INF = 'bitcast<f32>(0x7f800000u | (u.count & 0u))';

/** Identities of each reduction (max/min start at -inf/+inf, so a row of infinities reduces to infinity). */
const INIT: Record<ReduceOp, (t: WgslScalar) => string> = {
  sum: (t) => `${t}(0)`,
  max: (t) => (t === 'f32' ? F32_NEG_INF : t === 'i32' ? '-2147483647 - 1' : '0u'),
  min: (t) => (t === 'f32' ? F32_POS_INF : t === 'i32' ? '2147483647' : '4294967295u'),
  argmax: (t) => INIT.max(t),
  argmin: (t) => INIT.min(t),
};

/**
 * `keptRank`/`redRank` are compile-time ranks of the two views; `innerContiguous` means the reduced elements of
 * one output are consecutive in memory (reduced axes trailing), so the reduced offset is just the counter.
 */
export function reduceProgram(op: ReduceOp, dtype: WgslScalar, keptRank: number, redRank: number, innerContiguous: boolean): KernelProgram {
  const isArg = op === 'argmax' || op === 'argmin';
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  return {
    name: op,
    key: `reduce|${op}|${dtype}|k${keptRank}|r${redRank}|${innerContiguous ? 'c' : 's'}`,
    workgroupSize: [REDUCE_WORKGROUP],
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
    inputs: [dtype],
    outputs: [isArg ? 'i32' : dtype],
    body: () => {
      const base = decodeIndexWgsl('o', keptRank, 'keptShape', [{ acc: 'base', strides: 'keptStride' }]);
      const redOffset = innerContiguous
        ? 'let off = r;'
        : `var off = 0u; { ${decodeIndexWgsl('r', redRank, 'redShape', [{ acc: 'roff', strides: 'redStride' }])} off = roff; }`;
      const step = isArg
        ? `if (v ${cmp} acc) { acc = v; best = i32(r); }`
        : op === 'sum'
          ? 'acc = acc + v;'
          : `acc = ${op}(acc, v);`;
      return `${linearMainWgsl(REDUCE_WORKGROUP)}
  if (i >= u.nOut * u.chunks) { return; }
  let o = i / u.chunks;
  let chunk = i % u.chunks;
  var baseOff = 0u;
  { ${base}
    baseOff = base; }
  var acc = ${INIT[op](dtype)};
  var best = 0;
  let start = chunk * u.chunkLen;
  let end = min(start + u.chunkLen, u.count);
  for (var r = start; r < end; r = r + 1u) {
    ${redOffset}
    let v = in0[baseOff + off];
    ${step}
  }
  ${isArg ? 'if (end <= start) { best = -1; }\n  out0[i] = best;' : 'out0[i] = acc;'}
}`;
    },
  };
}
