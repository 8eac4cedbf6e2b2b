/**
 * Elementwise ops with NumPy broadcasting. Shapes and dtypes are checked here, before any GPU work; every op
 * becomes one `mapProgram` dispatch. A plain number operand travels in the uniform block (no upload).
 */
import { defineOp } from '../graph.js';
import type { DType } from '../dtype.js';
import { broadcastShapes, broadcastStrides, sameShape, sizeOf, type Shape } from '../shape.js';
import { viewTensor, type Tensor } from '../tensor.js';
import { zerosLike } from './creation.js';
import { sumToShape } from './reduce.js';
import { runProgram } from '../run-program.js';
import { mapProgram, type OperandMode } from '../../kernels/elementwise.js';
import { padDims, vec4Count } from '../../kernels/wgsl.js';

export type Operand = Tensor | number;

interface MapCall {
  op: string;
  expr: string;
  operands: readonly Operand[];
  /** dtype of each number operand and of the output when not given: the tensors' common dtype. */
  outDtype?: DType;
  /** allowed input dtypes */
  accepts?: readonly DType[];
  scalarParam?: number;
}

/** A number operand travels in the tensors' dtype: 0.5 next to an i32 tensor would silently become 0. */
function checkNumberOperands(op: string, operands: readonly Operand[], dtype: DType): void {
  if (dtype === 'f32') return;
  const fits = (x: number) => Number.isInteger(x) && (dtype === 'i32' ? x >= -(2 ** 31) && x < 2 ** 31 : x >= 0 && x < 2 ** 32);
  for (const x of operands) {
    if (typeof x === 'number' && !fits(x)) {
      throw new Error(
        `${op}: the number ${x} cannot be used with ${dtype} tensors (${operands.map(describe).join(' vs ')}); cast the tensor to f32 first`,
      );
    }
  }
}

function describe(x: Operand): string {
  return typeof x === 'number' ? `scalar ${x}` : `${x.dtype}[${x.shape.join(', ')}]`;
}

/** Check, broadcast and dispatch one map; returns the (unrecorded) output tensor. */
export function runMap(call: MapCall): Tensor {
  const tensors = call.operands.filter((x): x is Tensor => typeof x !== 'number');
  for (const t of tensors) t.buffer(call.op);
  const dtype = tensors[0]?.dtype ?? 'f32';
  if (tensors.some((t) => t.dtype !== dtype)) {
    throw new Error(`${call.op}: dtype mismatch (${call.operands.map(describe).join(' vs ')}); cast one operand first`);
  }
  if (call.accepts && !call.accepts.includes(dtype)) {
    throw new Error(`${call.op}: expects ${call.accepts.join(' or ')} tensors, got ${dtype}`);
  }
  checkNumberOperands(call.op, call.operands, dtype);
  let outShape: number[] = [];
  for (const t of tensors) outShape = broadcastShapes(call.op, outShape, t.shape);
  const modes: OperandMode[] = call.operands.map((x) =>
    typeof x === 'number' ? 'scalar' : sameShape(x.shape, outShape) ? 'same' : 'strided',
  );
  const rank = outShape.length;
  const program = mapProgram({
    op: call.op,
    expr: call.expr,
    operands: call.operands.map((x, i) => ({ dtype: typeof x === 'number' ? dtype : x.dtype, mode: modes[i]! })),
    outDtype: call.outDtype ?? dtype,
    rank,
  });
  const uniforms: Record<string, number | number[]> = { n: sizeOf(outShape), s: call.scalarParam ?? 0 };
  const inputs: Record<string, Tensor> = {};
  call.operands.forEach((x, i) => {
    if (typeof x === 'number') uniforms[`c${i}`] = x;
    else inputs[`x${i}`] = x;
    if (typeof x !== 'number' && modes[i] === 'strided') uniforms[`st${i}`] = padDims(broadcastStrides(x.shape, outShape), rank);
  });
  if (modes.includes('strided')) uniforms.shape = padDims(outShape, Math.max(rank, 1)).slice(0, vec4Count(rank) * 4);
  return runProgram(program, { inputs, outputs: { out: outShape }, uniforms }).out;
}

// ---- unary -------------------------------------------------------------------------------------------

const FLOAT: readonly DType[] = ['f32'];
const SIGNED: readonly DType[] = ['f32', 'i32'];

/** dL/dx of a unary op from dL/dy, its input x and its output y. */
type UnaryRule = (g: Tensor, x: Tensor, y: Tensor) => Tensor;

/** A unary op: its name, kernel expression (over v0, in x's dtype), accepted dtypes and gradient, in one place. */
function unaryOp(
  name: string,
  expr: string | ((x: Tensor) => string),
  grad: UnaryRule,
  accepts: readonly DType[] = FLOAT,
): (x: Tensor) => Tensor {
  const op = defineOp({ name, grad: (g, node, out) => [grad(g, node.inputs[0]!, out)] });
  return (x) => op.record(runMap({ op: name, expr: typeof expr === 'string' ? expr : expr(x), operands: [x], accepts }), [x], {}, {});
}

export const neg = unaryOp('neg', '-v0', (g) => neg(g), SIGNED);
// exp and log give PyTorch's values where WGSL's are undefined: exp overflows to +inf, log(0) = -inf, log(x < 0) = NaN.
export const exp = unaryOp('exp', 'expF(v0)', (g, _x, y) => mul(g, y));
export const log = unaryOp('log', 'logF(v0)', (g, x) => div(g, x));
export const sqrt = unaryOp('sqrt', 'sqrt(v0)', (g, _x, y) => div(mul(g, 0.5), y));
export const abs = unaryOp('abs', 'abs(v0)', (g, x) => mul(g, sub(greater(x, 0), less(x, 0))), SIGNED);
/**
 * relu(NaN) is NaN, as in PyTorch (WGSL's max may drop a NaN); so is its gradient rule: the upstream gradient
 * passes wherever x <= 0 does not hold, NaN included.
 */
export const relu = unaryOp(
  'relu',
  (x) => (x.dtype === 'f32' ? 'reluF(v0)' : 'max(v0, 0)'),
  (g, x) => reluGrad(g, x),
  SIGNED,
);

/**
 * relu's gradient in one pass: g * scale where y <= 0 does not hold (NaN included), zero elsewhere, with y relu's
 * input or its output (they have the same sign pattern; fused relu epilogues only keep the output). A fused
 * dropout's scale rides along: its output is zero wherever the mask dropped.
 */
export function reluGrad(g: Tensor, y: Tensor, scale = 1): Tensor {
  return runMap({ op: 'reluGrad', expr: 'select(v0 * s, 0.0, v1 <= 0.0)', operands: [g, y], scalarParam: scale });
}

/** Logistic sigmoid, written so that neither branch overflows for large |x|. */
export const sigmoid = unaryOp('sigmoid', 'select(exp(v0) / (1.0 + exp(v0)), 1.0 / (1.0 + exp(-v0)), v0 >= 0.0)', (g, _x, y) =>
  mul(g, mul(y, sub(1, y))),
);
/** tanh saturates to +-1 long before |x| = 15; clamping keeps implementations that use exp(2x) finite. */
export const tanh = unaryOp('tanh', 'tanh(clamp(v0, -15.0, 15.0))', (g, _x, y) => mul(g, sub(1, mul(y, y))));

const powOp = defineOp<{ p: number }>({
  name: 'pow',
  grad: (g, { inputs: [x], attrs: { p } }) => [p === 0 ? zerosLike(g) : mul(g, mul(powScalar(x!, p - 1), p))],
});

/**
 * x ** p for a scalar p. WGSL's pow is undefined for negative bases, so the sign is restored for integer
 * exponents (and NaN returned for negative bases with fractional exponents, as in NumPy).
 */
export function powScalar(x: Tensor, p: number): Tensor {
  // select(f, t, cond) picks t when cond holds. The NaN is built at run time: a constant NaN fails WGSL validation.
  const nan = 'bitcast<f32>(0x7fc00000u | (u.n & 0u))';
  const inf = 'bitcast<f32>(0x7f800000u | (u.n & 0u))';
  const intPow = 'select(pow(abs(v0), s), -pow(abs(v0), s), fract(s * 0.5) != 0.0)';
  const negBase = `select(${nan}, ${intPow}, fract(s) == 0.0)`;
  // 0 ** s is 0 for s > 0 and +inf for s < 0 (WGSL's pow is undefined there; s == 0 is handled last).
  const zeroBase = `select(${inf}, 0.0, s > 0.0)`;
  const expr = `select(select(select(${negBase}, pow(v0, s), v0 > 0.0), ${zeroBase}, v0 == 0.0), 1.0, s == 0.0)`;
  return powOp.record(runMap({ op: 'pow', expr, operands: [x], accepts: FLOAT, scalarParam: p }), [x], { p }, {});
}

// ---- binary ------------------------------------------------------------------------------------------

/** Both operands of a binary op; the node's inputs are the tensor ones among them. */
interface BinaryAttrs {
  a: Operand;
  b: Operand;
}

/** The gradients (before un-broadcasting) for operands a and b from dL/d(out). */
type BinaryRule = (g: Tensor, a: Operand, b: Operand, out: Tensor) => [Tensor | null, Tensor | null];

/** A binary op with broadcasting: its name, kernel expression over v0 and v1, and gradient, in one place. */
function binaryOp(name: string, expr: string | ((a: Operand, b: Operand) => string), grad: BinaryRule): (a: Operand, b: Operand) => Tensor {
  const op = defineOp<BinaryAttrs>({
    name,
    grad: (g, { attrs: { a, b } }, out) => {
      const [ga, gb] = grad(g, a, b, out);
      // Only tensor operands were recorded; each gradient is summed back over the dims broadcasting added.
      const result: (Tensor | null)[] = [];
      if (typeof a !== 'number') result.push(ga && sumToShape(ga, a.shape));
      if (typeof b !== 'number') result.push(gb && sumToShape(gb, b.shape));
      return result;
    },
  });
  return (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') throw new Error(`${name}: at least one operand must be a tensor`);
    const out = runMap({ op: name, expr: typeof expr === 'string' ? expr : expr(a, b), operands: [a, b] });
    return op.record(
      out,
      [a, b].filter((x): x is Tensor => typeof x !== 'number'),
      { a, b },
      {},
    );
  };
}

export const add = binaryOp('add', 'v0 + v1', (g) => [g, g]);
export const sub = binaryOp('sub', 'v0 - v1', (g) => [g, neg(g)]);
export const mul = binaryOp('mul', 'v0 * v1', (g, a, b) => [mul(g, b), mul(g, a)]);
export const div = binaryOp('div', 'v0 / v1', (g, a, b) => [div(g, b), typeof b === 'number' ? null : neg(div(mul(g, a), mul(b, b)))]);
/** f32 `fn(v0, v1)` that returns NaN when either operand is NaN, as PyTorch's maximum/minimum do (WGSL's may drop it). */
function nanPropagating(fn: string, a: Operand, b: Operand): string {
  const float = (typeof a === 'number' || a.dtype === 'f32') && (typeof b === 'number' || b.dtype === 'f32');
  return float ? `select(${fn}(v0, v1), nanF(), isNanF(v0) || isNanF(v1))` : `${fn}(v0, v1)`;
}

// Ties send the gradient to the first operand, as the forward's select does.
export const maximum = binaryOp(
  'maximum',
  (a, b) => nanPropagating('max', a, b),
  (g, a, b) => [mul(g, greaterEqual(a, b)), mul(g, less(a, b))],
);
export const minimum = binaryOp(
  'minimum',
  (a, b) => nanPropagating('min', a, b),
  (g, a, b) => [mul(g, lessEqual(a, b)), mul(g, greater(a, b))],
);

function compare(op: string, sym: string, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  return runMap({ op, expr: `select(0.0, 1.0, v0 ${sym} v1)`, operands: [a, b], outDtype: 'f32' });
}

/** Comparisons return f32 masks of 0 and 1, ready to multiply or average (they carry no gradient). */
export const equal = (a: Operand, b: Operand) => compare('equal', '==', a, b);
export const notEqual = (a: Operand, b: Operand) => compare('notEqual', '!=', a, b);
export const less = (a: Operand, b: Operand) => compare('less', '<', a, b);
export const lessEqual = (a: Operand, b: Operand) => compare('lessEqual', '<=', a, b);
export const greater = (a: Operand, b: Operand) => compare('greater', '>', a, b);
export const greaterEqual = (a: Operand, b: Operand) => compare('greaterEqual', '>=', a, b);

/** where's condition is saved (a view, owned by the node); the branches are its attributes as for binary ops. */
const whereOp = defineOp<BinaryAttrs, { cond: Tensor }>({
  name: 'where',
  grad: (g, { attrs: { a, b }, saved: { cond } }) => {
    const result: Tensor[] = [];
    if (typeof a !== 'number') result.push(sumToShape(where(cond, g, 0), a.shape));
    if (typeof b !== 'number') result.push(sumToShape(where(cond, 0, g), b.shape));
    return result;
  },
});

/** where(cond, a, b): a where cond != 0, else b; all three broadcast together. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ta = typeof a === 'number' ? null : a;
  const tb = typeof b === 'number' ? null : b;
  for (const t of [cond, ta, tb]) t?.buffer('where');
  const dtype = ta?.dtype ?? tb?.dtype ?? 'f32';
  if (ta && tb && ta.dtype !== tb.dtype) throw new Error(`where: dtype mismatch between branches (${describe(a)} vs ${describe(b)})`);
  // Check what runMap would reject before making the mask, which is already GPU work.
  checkNumberOperands('where', [a, b], dtype);
  broadcastShapes('where', broadcastShapes('where', cond.shape, ta?.shape ?? []), tb?.shape ?? []);
  // The condition is tested in its own dtype (casting a 0.5 mask to i32 would truncate it to 0), and the 0/1
  // mask is brought to the branches' dtype so all three broadcast as one 3-operand map.
  let mask = cond;
  if (cond.dtype !== dtype) {
    const nonZero = notEqual(cond, 0);
    mask = nonZero.dtype === dtype ? nonZero : cast(nonZero, dtype);
    if (mask !== nonZero) nonZero.dispose();
  }
  const out = runMap({ op: 'where', expr: `select(v2, v1, v0 != ${dtype}(0))`, operands: [mask, a, b] });
  if (mask !== cond) mask.dispose();
  return whereOp.record(
    out,
    [ta, tb].filter((x): x is Tensor => x !== null),
    { a, b },
    { cond: viewTensor(cond, cond.shape) },
  );
}

const castOp = defineOp({ name: 'cast', grad: (g) => [g] });

/** Convert dtypes (f32 -> int truncates toward zero). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x.buffer('cast');
  if (x.dtype === dtype) return castOp.record(runMap({ op: 'cast', expr: 'v0', operands: [x] }), [x], {}, {});
  // Casts that involve an integer type carry no gradient.
  return runMap({ op: 'cast', expr: `${dtype}(v0)`, operands: [x], outDtype: dtype });
}

export type { Shape };
