/**
 * The gradient table: one local rule per op, keyed by op name. Each rule receives dL/d(out), the node (inputs
 * and attributes) and the output, and returns dL/d(input) for each input in order. Rules run without recording.
 * Kernels added elsewhere (matmul, conv, pooling, ...) register their rules with `defineGrad`.
 */
import { gradRules, type GradNode, type GradRule } from './autograd.js';
import { sameShape, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import { div, equal, greater, greaterEqual, less, lessEqual, mul, neg, powScalar, sub, where, type Operand } from './ops/elementwise.js';
import { sum } from './ops/reduce.js';
import { broadcastTo, pad, reshape, slice, transpose } from './ops/layout.js';
import { gatherBackward, takeAlongAxisBackward } from './ops/indexing.js';
import { zerosLike } from './ops/creation.js';

export function defineGrad(op: string, rule: GradRule): void {
  gradRules.set(op, rule);
}

/** Sum a broadcast gradient back to the operand's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = sum(g, axes, { keepDims: true });
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

/** Binary ops record only their tensor operands; map the (a, b) gradients onto those. */
function binaryRule(f: (g: Tensor, a: Operand, b: Operand, out: Tensor) => [Tensor | null, Tensor | null]): GradRule {
  return (g, node, out) => {
    const a = node.attrs.a as Operand;
    const b = node.attrs.b as Operand;
    const [ga, gb] = f(g, a, b, out);
    const result: (Tensor | null)[] = [];
    if (typeof a !== 'number') result.push(ga && sumToShape(ga, a.shape));
    if (typeof b !== 'number') result.push(gb && sumToShape(gb, b.shape));
    return result;
  };
}

const input = (node: GradNode, i = 0) => node.inputs[i]!;

defineGrad('add', binaryRule((g) => [g, g]));
defineGrad('sub', binaryRule((g) => [g, neg(g)]));
defineGrad('mul', binaryRule((g, a, b) => [mul(g, b), mul(g, a)]));
defineGrad('div', binaryRule((g, a, b) => [div(g, b), typeof b === 'number' ? null : neg(div(mul(g, a), mul(b, b)))]));
// Ties send the gradient to the first operand, as the forward's select does.
defineGrad('maximum', binaryRule((g, a, b) => [mul(g, greaterEqual(a, b)), mul(g, less(a, b))]));
defineGrad('minimum', binaryRule((g, a, b) => [mul(g, lessEqual(a, b)), mul(g, greater(a, b))]));

defineGrad('neg', (g) => [neg(g)]);
defineGrad('exp', (g, _n, out) => [mul(g, out)]);
defineGrad('log', (g, n) => [div(g, input(n))]);
defineGrad('sqrt', (g, _n, out) => [div(mul(g, 0.5), out)]);
defineGrad('abs', (g, n) => [mul(g, sub(greater(input(n), 0), less(input(n), 0)))]);
defineGrad('relu', (g, n) => [mul(g, greater(input(n), 0))]);
defineGrad('sigmoid', (g, _n, out) => [mul(g, mul(out, sub(1, out)))]);
defineGrad('tanh', (g, _n, out) => [mul(g, sub(1, mul(out, out)))]);
defineGrad('pow', (g, n) => {
  const p = n.attrs.p as number;
  return [p === 0 ? zerosLike(g) : mul(g, mul(powScalar(input(n), p - 1), p))];
});
defineGrad('where', (g, n) => {
  const cond = n.attrs.cond as Tensor;
  const a = n.attrs.a as Operand;
  const b = n.attrs.b as Operand;
  const result: Tensor[] = [];
  if (typeof a !== 'number') result.push(sumToShape(where(cond, g, 0), a.shape));
  if (typeof b !== 'number') result.push(sumToShape(where(cond, 0, g), b.shape));
  return result;
});
defineGrad('cast', (g) => [g]);

function expandReduced(g: Tensor, n: GradNode): Tensor {
  const x = input(n);
  const axes = n.attrs.axes as number[];
  const kept = n.attrs.keepDims ? g : reshape(g, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return broadcastTo(kept, x.shape);
}
defineGrad('sum', (g, n) => [expandReduced(g, n)]);
// Every position equal to the extreme receives the gradient (ties share it, as in TF.js).
const extremeRule: GradRule = (g, n, out) => {
  const x = input(n);
  const axes = n.attrs.axes as number[];
  const outKept = n.attrs.keepDims ? out : reshape(out, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return [mul(expandReduced(g, n), equal(x, outKept))];
};
defineGrad('max', extremeRule);
defineGrad('min', extremeRule);

defineGrad('reshape', (g, n) => [reshape(g, n.attrs.shape as number[])]);
defineGrad('transpose', (g, n) => {
  const perm = n.attrs.perm as number[];
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [transpose(g, inverse)];
});
defineGrad('slice', (g, n) => {
  const begin = n.attrs.begin as number[];
  const inShape = n.attrs.inShape as number[];
  return [pad(g, inShape.map((d, i) => [begin[i]!, d - begin[i]! - g.shape[i]!] as [number, number]))];
});
defineGrad('pad', (g, n) => {
  const pads = n.attrs.pads as [number, number][];
  return [slice(g, pads.map(([a]) => a), input(n).shape)];
});
defineGrad('broadcastTo', (g, n) => [sumToShape(g, n.attrs.inShape as number[])]);
defineGrad('concat', (g, n) => {
  const axis = n.attrs.axis as number;
  let offset = 0;
  return (n.attrs.sizes as number[]).map((size) => {
    const begin = g.shape.map((_, i) => (i === axis ? offset : 0));
    const sz = g.shape.map((d, i) => (i === axis ? size : d));
    offset += size;
    return slice(g, begin, sz);
  });
});
defineGrad('gather', (g, n) => [gatherBackward(g, n.attrs.indices as Tensor, input(n).shape, n.attrs.axis as number)]);
defineGrad('takeAlongAxis', (g, n) => [takeAlongAxisBackward(g, n.attrs.indices as Tensor, input(n).shape, n.attrs.axis as number)]);
