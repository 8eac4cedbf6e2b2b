/** Small WGSL fragments shared by kernel generators. */

/** Access element `d` of a uniform `array<vec4<u32>, K>` field with a compile-time index. */
export function dimRef(field: string, d: number): string {
  return `u.${field}[${d >> 2}][${d & 3}]`;
}

/** Number of vec4s that hold `rank` dims (at least 1, since WGSL arrays cannot be empty). */
export function vec4Count(rank: number): number {
  return Math.max(1, Math.ceil(rank / 4));
}

/**
 * Unrolled decode of a linear index over a shape held in uniform field `shapeField` (rank known at compile time),
 * accumulating `sum_k coord_k * stride_k` for every (accumulator, strides field) pair.
 */
export function decodeIndexWgsl(index: string, rank: number, shapeField: string, targets: { acc: string; strides: string }[]): string {
  const lines = [`var rem = ${index};`];
  for (const t of targets) lines.push(`var ${t.acc} = 0u;`);
  for (let d = rank - 1; d >= 0; d--) {
    const dim = dimRef(shapeField, d);
    lines.push(`{ let c = rem % ${dim}; rem = rem / ${dim};`);
    for (const t of targets) lines.push(`  ${t.acc} = ${t.acc} + c * ${dimRef(t.strides, d)};`);
    lines.push('}');
  }
  return lines.join('\n    ');
}

/** Entry point header for kernels dispatched with a `linearGrid` (linear index over possibly 2-D workgroup grids). */
export function linearMainWgsl(workgroupSize: number): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${workgroupSize}u;`;
}

/** Pad a list of dims to a multiple of 4 for a vec4-array uniform. */
export function padDims(dims: readonly number[], rank: number): number[] {
  const n = vec4Count(rank) * 4;
  const out = new Array<number>(n).fill(0);
  dims.forEach((d, i) => (out[i] = d));
  return out;
}
