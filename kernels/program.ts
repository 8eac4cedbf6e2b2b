/**
 * A kernel is a small program description. `key` holds everything that changes the WGSL text (ranks, dtypes,
 * flags, tile sizes); shapes and scalars travel in a uniform buffer, so a new shape reuses the compiled
 * pipeline. A program names its storage buffers (`inputs`, read-only; `outputs`, read_write) and its WGSL uses
 * those names; `bindingsWgsl` declares them: binding 0 is the uniform block `u` (when the kernel has uniforms),
 * then the inputs, then the outputs, each in declaration order. The program also says how many workgroups a
 * dispatch needs (`grid`, from the uniform values, which carry the shapes), so the grid and the workgroup size
 * it is counted in live side by side and cannot disagree.
 */
export type WgslScalar = 'f32' | 'i32' | 'u32';

/**
 * What a binding holds an array of: scalars, or vec4s where a kernel loads four floats at a time (storage
 * buffers); or 'window': a read-only uniform-buffer binding of UNIFORM_WINDOW_VEC4S vec4s (64 KiB, the most a
 * uniform binding may hold), which the op binds at an offset into a larger buffer. On llvmpipe a uniform load
 * with a per-invocation index is one vector gather, while a storage load is a loop over the SIMD lanes
 * (bench/load-probes.ts).
 */
export type StorageElement = WgslScalar | 'vec4<f32>' | 'window';

/** The vec4s of a 'window' binding: 64 KiB. */
export const UNIFORM_WINDOW_VEC4S = 4096;
export const UNIFORM_WINDOW_BYTES = UNIFORM_WINDOW_VEC4S * 16;

/** Storage bindings by WGSL name. An optional binding (`bias?: 'f32'`) is absent from kernels compiled without it. */
export type Bindings = { readonly [name: string]: StorageElement | undefined };

export type UniformType = 'u32' | 'i32' | 'f32' | 'vec4u' | 'vec4i' | 'vec4f';

export interface UniformField {
  name: string;
  type: UniformType;
  /** For vec4 arrays: number of vec4s (shapes and strides of up to 4*count dims). */
  count?: number;
}

export type UniformValues = Record<string, number | readonly number[]>;

/** Workgroups per dispatch along x, y and z. */
export type Workgroups = readonly [number, number?, number?];

export interface KernelProgram<In extends Bindings = Bindings, Out extends Bindings = Bindings> {
  /** Op name, used in labels and error messages. */
  name: string;
  /** Cache key: the pipeline is compiled once per distinct key. */
  key: string;
  workgroupSize: readonly [number, number?, number?];
  uniforms: readonly UniformField[];
  inputs: In;
  outputs: Out;
  /** The workgroups one dispatch with these uniform values needs. */
  grid(u: UniformValues): Workgroups;
  /** Generates the body (everything after the bindings): called only on a cache miss. */
  body(): string;
}

export interface Dispatch {
  program: KernelProgram;
  uniforms?: UniformValues;
  /**
   * Loop iterations one invocation runs, all its loops together, as planned by the op from the shapes (omit for
   * loop-free kernels). The runtime checks it against LOOP_BUDGET (see loop-budget.ts).
   */
  trips?: number;
}

export type BindingAccess = 'read' | 'read_write' | 'uniform';

/** The declared bindings, in binding order: inputs, then outputs ('window' inputs are uniform bindings). */
export function bindingList(p: KernelProgram): { name: string; type: StorageElement; access: BindingAccess }[] {
  const list = (b: Bindings, access: 'read' | 'read_write') =>
    Object.entries(b).flatMap(([name, type]) =>
      type === undefined ? [] : [{ name, type, access: type === 'window' ? ('uniform' as const) : access }],
    );
  return [...list(p.inputs, 'read'), ...list(p.outputs, 'read_write')];
}

const SIZE: Record<UniformType, number> = { u32: 4, i32: 4, f32: 4, vec4u: 16, vec4i: 16, vec4f: 16 };

/** WGSL of the uniform struct + all bindings for a program. */
export function bindingsWgsl(p: KernelProgram): string {
  const lines: string[] = [];
  let b = 0;
  if (p.uniforms.length > 0) {
    lines.push('struct Uniforms {');
    for (const f of p.uniforms) {
      const t = f.type.startsWith('vec4') ? `vec4<${f.type === 'vec4u' ? 'u32' : f.type === 'vec4i' ? 'i32' : 'f32'}>` : f.type;
      lines.push(f.count ? `  ${f.name}: array<${t}, ${f.count}>,` : `  ${f.name}: ${t},`);
    }
    lines.push('};');
    lines.push(`@group(0) @binding(${b++}) var<uniform> u: Uniforms;`);
  }
  for (const { name, type, access } of bindingList(p)) {
    if (access === 'uniform') lines.push(`@group(0) @binding(${b++}) var<uniform> ${name}: array<vec4<f32>, ${UNIFORM_WINDOW_VEC4S}>;`);
    else lines.push(`@group(0) @binding(${b++}) var<storage, ${access}> ${name}: array<${type}>;`);
  }
  return lines.join('\n');
}

/** Full WGSL source of a program. */
export function programWgsl(p: KernelProgram): string {
  return `${bindingsWgsl(p)}\n${p.body()}`;
}

/**
 * Byte layout of the uniform block (std140-like rules of WGSL: scalars 4-aligned, vec4 and arrays
 * 16-aligned, struct size a multiple of 16).
 */
export function uniformLayout(fields: readonly UniformField[]): { offsets: number[]; size: number } {
  let off = 0;
  const offsets: number[] = [];
  for (const f of fields) {
    const align = f.type.startsWith('vec4') ? 16 : 4;
    off = Math.ceil(off / align) * align;
    offsets.push(off);
    off += SIZE[f.type] * (f.count ?? 1);
  }
  return { offsets, size: Math.max(16, Math.ceil(off / 16) * 16) };
}

/** Write uniform values into `view` at `base`, following `uniformLayout`. */
export function packUniforms(
  fields: readonly UniformField[],
  values: UniformValues,
  view: DataView,
  base: number,
  layout = uniformLayout(fields),
): void {
  fields.forEach((f, i) => {
    const v = values[f.name];
    if (v === undefined) throw new Error(`uniform '${f.name}' missing`);
    const off = base + layout.offsets[i]!;
    const isFloat = f.type === 'f32' || f.type === 'vec4f';
    const isSigned = f.type === 'i32' || f.type === 'vec4i';
    const write = (o: number, x: number) => {
      if (isFloat) view.setFloat32(o, x, true);
      else if (isSigned) view.setInt32(o, x, true);
      else view.setUint32(o, x >>> 0, true);
    };
    if (typeof v === 'number') write(off, v);
    else {
      const n = (f.count ?? 1) * (f.type.startsWith('vec4') ? 4 : 1);
      for (let k = 0; k < n; k++) write(off + 4 * k, v[k] ?? 0);
    }
  });
}

/**
 * Spread `n` workgroups over x and y so no dimension exceeds WebGPU's 65535 limit (no threads: no workgroups,
 * so the dispatch is skipped). Kernels recover the linear invocation index with the entry point header
 * `linearMainWgsl` (kernels/wgsl.ts).
 */
export function grid1d(totalThreads: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(totalThreads / workgroupSize);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/**
 * The grid of a kernel with one invocation per element of a linear index space whose size is the product of
 * the named scalar uniforms (e.g. `linearGrid(WG, 'rows', 'chunks')`).
 */
export function linearGrid(workgroupSize: number, ...counts: string[]): (u: UniformValues) => Workgroups {
  return (u) =>
    grid1d(
      counts.reduce((total, name) => total * scalarUniform(u, name), 1),
      workgroupSize,
    );
}

/** A scalar uniform value, for grids computed from the uniforms. */
export function scalarUniform(u: UniformValues, name: string): number {
  const v = u[name];
  if (typeof v !== 'number') throw new Error(`uniform '${name}' missing or not a scalar`);
  return v;
}

/** Types a program literal, keeping its binding names and dtypes (so `runProgram` checks the tensors given). */
export function kernel<In extends Bindings, Out extends Bindings>(p: KernelProgram<In, Out>): KernelProgram<In, Out> {
  return p;
}
