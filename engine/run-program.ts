/**
 * Running a kernel program from the op layer: tensors are bound by the program's binding names, outputs given
 * as a shape are allocated here (with the binding's dtype, labelled with the program's name), and the grid comes
 * from the program itself. Tensors are checked for use after dispose, naming the op, before anything is recorded.
 */
import { runtime } from './context.js';
import type { Shape } from './shape.js';
import { emptyTensor, type Tensor } from './tensor.js';
import type { Bindings, KernelProgram, UniformValues } from '../kernels/program.js';

export interface ProgramRun<In extends Bindings, Out extends Bindings> {
  inputs: { [K in keyof In]: Tensor };
  /** Per output: the shape of a new tensor, or an existing tensor that the kernel writes (in place). */
  outputs: { [K in keyof Out]: Shape | Tensor };
  uniforms?: UniformValues;
  /** Loop iterations per invocation (see kernels/loop-budget.ts). */
  trips?: number;
}

/** Record one dispatch of `program`; returns its output tensors by name. */
export function runProgram<In extends Bindings, Out extends Bindings>(
  program: KernelProgram<In, Out>,
  run: ProgramRun<In, Out>,
): { [K in keyof Out]: Tensor } {
  const op = program.name;
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, t] of Object.entries(run.inputs as Record<string, Tensor>)) buffers[name] = t.buffer(op);
  const outputs: Record<string, Tensor> = {};
  const allocated: Tensor[] = [];
  for (const [name, o] of Object.entries(run.outputs as Record<string, Shape | Tensor>)) {
    const dtype = program.outputs[name];
    if (dtype === undefined) throw new Error(`${op}: kernel ${program.key} has no output '${name}'`);
    if (dtype === 'window') throw new Error(`${op}: kernel ${program.key} writes a uniform window '${name}'`);
    // A vec4<f32> binding is a view of f32 data, four elements at a time.
    const t = Array.isArray(o) ? emptyTensor(o as Shape, dtype === 'vec4<f32>' ? 'f32' : dtype, op) : (o as Tensor);
    if (t !== o) allocated.push(t);
    outputs[name] = t;
    buffers[name] = t.buffer(op);
  }
  try {
    runtime().run({ program, uniforms: run.uniforms, trips: run.trips }, buffers);
  } catch (e) {
    for (const t of allocated) t.dispose();
    throw e;
  }
  return outputs as { [K in keyof Out]: Tensor };
}
