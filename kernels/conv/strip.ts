/**
 * The row strip of the row-strip walks (forward and input gradient, stride 1 and dilation 1 along W): `len`
 * consecutive values of one input (or output-gradient) row, loaded once per channel of the reduction and reused
 * by every kernel column. Positions outside the row read zero (padding).
 *
 * With `shift` set, the strip is read as vec4s: on llvmpipe a storage load with a per-invocation index is a loop
 * over the SIMD lanes, and one vec4 load is one such loop for four floats, so an 18-wide strip costs 5 or 6
 * loops instead of 18. This needs the strip's start to be a multiple of 4 minus `shift` (the planner checks the
 * row length and the tile; `shift` is compiled in), and the buffer bound as array<vec4<f32>>. The quads before the
 * row's start or past the buffer's end are clamped to valid indices; the positions they serve are masked anyway.
 */
import { range, unroll, type RegisterBlock } from '../gemm/register-block.js';

export interface StripWgsl {
  /** Once per kernel row: where the strip starts (declares its loop-carried index). */
  start: string;
  /** Once per channel: the loads, declaring a{p} for every position p. */
  load: string;
  /** After the channel: moves the strip to the next channel's plane. */
  advance: string;
}

/**
 * `first`: the element index of position 0 (an i32 WGSL expression); `ok(p)`: whether position p is inside the
 * row; `plane`: the distance between channel planes (WGSL, a multiple of 4 when vectorised); `binding`: the
 * storage array the strip reads; `tag` prefixes every name the strip declares (ok, px, quad0, xq, a), so that several
 * strips can live side by side (the filter gradient's rows).
 *
 * `slide` (vec4 strips only): the strip moves along its row by four positions per `advance` instead of to the next
 * plane, as the filter gradient walks a row in quads; `start` runs once per row, and each `advance` keeps the quads
 * the next step shares with this one, so each step loads one new quad. The positions' tests then depend on the
 * step, so they move from `start` into `load` (`first` and `ok` are evaluated at the row's first step).
 */
export function stripWgsl(
  len: number,
  first: string,
  ok: (p: number) => string,
  plane: string,
  binding: string,
  shift: number | null,
  tag = '',
  slide = false,
): StripWgsl {
  const [ok_, px, quad0, xq, a] = ['ok', 'px', 'quad0', 'xq', 'a'].map((name) => tag + name) as [string, string, string, string, string];
  const oks = unroll(len, (p) => `let ${ok_}${p} = ${ok(p)};`, '\n    ');
  if (shift === null) {
    return {
      start: `${oks}\n    ${unroll(len, (p) => `var ${px}${p} = select(0, ${first} + ${p}, ${ok_}${p});`, '\n    ')}`,
      load: unroll(len, (p) => `let ${a}${p} = select(0.0, ${binding}[${px}${p}], ${ok_}${p});`, '\n      '),
      advance: unroll(len, (p) => `${px}${p} = ${px}${p} + ${plane};`, '\n      '),
    };
  }
  // Position p is element (quad0 * 4) + p + 4 - shift: component (p + 4 - shift) % 4 of quad quad0 + (p + 4 - shift) / 4.
  const at = (p: number) => ({ quad: (p + 4 - shift) >> 2, lane: (p + 4 - shift) & 3 });
  const quads = range(at(len - 1).quad + 1).filter((q) => q >= at(0).quad);
  const load = (q: number) => `${xq}${q} = ${binding}[max(${quad0} + ${q}, 0)];`;
  const values = range(len).map((p) => `let ${a}${p} = select(0.0, ${xq}${at(p).quad}[${at(p).lane}], ${ok_}${p});`);
  if (slide) {
    const [carried, fresh] = [quads.slice(0, -1), quads.at(-1)!];
    return {
      start: [`var ${quad0} = (${first} + ${shift - 4}) / 4;`, ...carried.map((q) => `var ${load(q)}`)].join('\n    '),
      load: [oks, `let ${load(fresh)}`, ...values].join('\n      '),
      advance: [...carried.map((q, k) => `${xq}${q} = ${xq}${quads[k + 1]!};`), `${quad0} = ${quad0} + 1;`].join('\n      '),
    };
  }
  return {
    start: `${oks}\n    var ${quad0} = (${first} + ${shift - 4}) / 4;`,
    load: [...quads.map((q) => `let ${load(q)}`), ...values].join('\n      '),
    advance: `${quad0} = ${quad0} + ${plane} / 4;`,
  };
}

/**
 * The channel loop of the row-strip walks (forward: input channels `c`; input gradient: output channels `o`),
 * shared by both passes and by one-row and multi-row tiles: per channel, every strip's loads (and its move to the
 * next channel's plane), then for each unrolled tap t its weights b{i} (`weights(t)`) and one depth step of the
 * block, pixel p reading strip value `source(t, p)`; then `advanceWeights`. The caller starts the strips and the
 * weight indices before it.
 */
export function stripLoopWgsl(o: {
  channel: string;
  strips: readonly StripWgsl[];
  taps: number;
  weights: (t: number) => string;
  source: (t: number, p: number) => string;
  advanceWeights: string;
  block: RegisterBlock;
}): string {
  const { channel: c, block } = o;
  return `for (var ${c} = u.kStart; ${c} < u.kEnd; ${c} = ${c} + 1) {
      ${o.strips.map((st) => `${st.load}\n      ${st.advance}`).join('\n      ')}
      ${unroll(
        o.taps,
        (t) => `{
        ${o.weights(t)}
        ${block.step(
          (p) => o.source(t, p),
          (i) => `b${i}`,
          '\n        ',
        )}
      }`,
        '\n      ',
      )}
      ${o.advanceWeights}
    }`;
}
