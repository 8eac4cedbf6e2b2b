/**
 * Memory scopes. Every tensor created while a scope is open is tracked by the innermost one; when the scope
 * ends, each tracked tensor not returned (and not `keep`-ed) is disposed. Scopes work with async functions
 * without AsyncLocalStorage (which browsers lack): they form a stack, and a scope that ends while an inner one
 * is still open is reported as an error instead of silently freeing the wrong tensors. Run concurrent async
 * work in one scope, or in scopes that nest.
 */
import type { Tensor } from './tensor.js';

interface Scope {
  id: number;
  tensors: Set<Tensor>;
  name: string;
}

const stack: Scope[] = [];
let nextId = 1;

export function trackTensor(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top) top.tensors.add(t);
}

/** Stop every open scope from disposing `t` (it now belongs to the caller). Returns `t`. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.tensors.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as { isTensor?: boolean }).isTensor === true) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

function open(name: string): Scope {
  const s = { id: nextId++, tensors: new Set<Tensor>(), name };
  stack.push(s);
  return s;
}

function close(s: Scope, result: unknown): void {
  const top = stack[stack.length - 1];
  if (top !== s) {
    // Leave the stack usable: drop `s` (or every later tensor would be tracked by it forever) and hand its
    // tensors to the scope below it, without disposing anything the still-open inner scope may use.
    const at = stack.indexOf(s);
    if (at >= 0) {
      stack.splice(at, 1);
      const below = stack[at - 1];
      if (below) for (const t of s.tensors) below.tensors.add(t);
    }
    throw new Error(`scope '${s.name}' ended while an inner scope '${top?.name}' was still open (async scopes must nest)`);
  }
  stack.pop();
  const returned = new Set<Tensor>();
  collect(result, returned);
  const parent = stack[stack.length - 1];
  for (const t of s.tensors) {
    if (returned.has(t)) parent?.tensors.add(t);
    else if (!t.isDisposed) t.dispose();
  }
}

/** Run `fn`; dispose every tensor it created except those it returns. Works with sync and async functions. */
export function scope<T>(fn: () => T, name?: string): T;
export function scope<T>(fn: () => Promise<T>, name?: string): Promise<T>;
export function scope<T>(fn: () => T | Promise<T>, name = 'scope'): T | Promise<T> {
  const s = open(name);
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (e) {
    close(s, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        close(s, v);
        return v;
      },
      (e) => {
        close(s, undefined);
        throw e;
      },
    );
  }
  close(s, result);
  return result;
}

export function scopeDepth(): number {
  return stack.length;
}
