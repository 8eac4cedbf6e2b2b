/**
 * The core that every GEMM kernel here is built on: matmul's register, vector and shared tilings and the three
 * conv passes (forward, input gradient, filter gradient as implicit GEMMs). An invocation owns a block of
 * rows x cols partial sums held in unrolled scalars; each depth step adds the outer product of a column of A'
 * values and a row of B' values to it. The kernels differ only in what they supply around the block:
 *
 * - readers: the WGSL expressions for a(i) and b(j) at a depth step, whatever layout, walk (row strips, taps,
 *   residue classes) or memory (storage, vec4 components, workgroup slabs) they come from;
 * - the depth walk: the loops, and the loads they hoist;
 * - a writer: what happens to each finished sum (bounds test, epilogue, slice accumulation).
 *
 * The block owns the accumulator names, their declaration and the multiply-add: every sum runs over the depth
 * in increasing order, one `acc + a * b` per step, which is the order the float64 reference tests assume.
 */

/** 0, 1, ..., n - 1. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** `n` lines (or terms) generated from an index, joined: the blocks are unrolled into named scalars. */
export function unroll(n: number, line: (k: number) => string, separator = '\n  '): string {
  return range(n).map(line).join(separator);
}

export interface RegisterBlock {
  rows: number;
  cols: number;
  /** The accumulator of row i, column j. */
  at(i: number, j: number): string;
  /** Declares every accumulator, zeroed. */
  declare(separator?: string): string;
  /** One depth step: acc(i, j) += a(i) * b(j) for the whole block. */
  step(a: (i: number) => string, b: (j: number) => string, separator?: string): string;
  /** The writer's statement for each finished sum, row by row. */
  write(line: (i: number, j: number, acc: string) => string, separator?: string): string;
}

export function registerBlock(rows: number, cols: number): RegisterBlock {
  const at = (i: number, j: number) => `acc${i}_${j}`;
  const each = (line: (i: number, j: number) => string, separator: string) =>
    unroll(rows, (i) => unroll(cols, (j) => line(i, j), separator), separator);
  return {
    rows,
    cols,
    at,
    declare: (separator = '\n  ') => each((i, j) => `var ${at(i, j)} = 0.0;`, separator),
    step: (a, b, separator = '\n    ') => each((i, j) => `${at(i, j)} = ${at(i, j)} + ${a(i)} * ${b(j)};`, separator),
    write: (line, separator = '\n  ') => each((i, j) => line(i, j, at(i, j)), separator),
  };
}
