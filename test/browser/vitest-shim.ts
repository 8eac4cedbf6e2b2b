/**
 * The part of vitest's API our engine and kernel tests use, for running them inside a browser page. The browser
 * test bundle aliases `vitest` to this module: test files register suites, tests and hooks on import, then the
 * page calls `globalThis.__browserTests.run()` (set below), which runs them in order and reports each result
 * through `globalThis.__reportTest` when the test driver has exposed it.
 *
 * Semantics follow vitest where the tests depend on them: describe bodies run at collection; beforeAll/afterAll
 * wrap a suite's tests; beforeEach/afterEach run outermost-first/innermost-first; a failing beforeAll fails
 * every test of its suite; `expect(value, message)` prefixes failures with the message; toEqual ignores
 * properties that are undefined and compares typed arrays element by element.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   callback and matcher arguments are as loosely typed as vitest's own signatures, which this stands in for */

type HookFn = () => unknown;
type TestFn = () => unknown;

interface TestCase {
  kind: 'test';
  name: string;
  fn: TestFn;
  skip: boolean;
  timeoutMs: number;
}

interface Suite {
  kind: 'suite';
  name: string;
  skip: boolean;
  children: (Suite | TestCase)[];
  beforeAll: HookFn[];
  afterAll: HookFn[];
  beforeEach: HookFn[];
  afterEach: HookFn[];
}

export interface TestResult {
  /** Suite names and the test name, joined with ' > '. */
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  error?: string;
  ms: number;
}

/** vitest.config.ts gives every test 120 s; the same here so a hung GPU readback fails instead of stalling. */
const DEFAULT_TIMEOUT_MS = 120_000;

function newSuite(name: string, skip: boolean): Suite {
  return { kind: 'suite', name, skip, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
}

const root = newSuite('', false);
let current = root;

// ---------------------------------------------------------------------------------------------------------------
// Registration

function registerSuite(name: string, body: () => unknown, skip: boolean): void {
  const suite = newSuite(name, skip || current.skip);
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    const result = body();
    if (result instanceof Promise) throw new Error(`describe('${name}'): async describe bodies are not supported by the browser shim`);
  } finally {
    current = parent;
  }
}

function registerTest(name: string, fn: TestFn | undefined, timeout: number | { timeout?: number } | undefined, skip: boolean): void {
  const timeoutMs = (typeof timeout === 'number' ? timeout : timeout?.timeout) ?? DEFAULT_TIMEOUT_MS;
  current.children.push({ kind: 'test', name, fn: fn ?? (() => {}), skip: skip || !fn || current.skip, timeoutMs });
}

type TestRegistrar = {
  (name: string, fn?: TestFn, timeout?: number | { timeout?: number }): void;
  skip: (name: string, fn?: TestFn, timeout?: number | { timeout?: number }) => void;
  skipIf: (condition: unknown) => (name: string, fn?: TestFn, timeout?: number | { timeout?: number }) => void;
  runIf: (condition: unknown) => (name: string, fn?: TestFn, timeout?: number | { timeout?: number }) => void;
  each: <T>(cases: readonly T[]) => (name: string, fn: (...args: any[]) => unknown, timeout?: number | { timeout?: number }) => void;
};

function makeTestRegistrar(): TestRegistrar {
  const registrar = ((name, fn, timeout) => registerTest(name, fn, timeout, false)) as TestRegistrar;
  registrar.skip = (name, fn, timeout) => registerTest(name, fn, timeout, true);
  registrar.skipIf = (condition) => (name, fn, timeout) => registerTest(name, fn, timeout, Boolean(condition));
  registrar.runIf = (condition) => (name, fn, timeout) => registerTest(name, fn, timeout, !condition);
  registrar.each = (cases) => (name, fn, timeout) => {
    cases.forEach((c, i) => {
      const args = Array.isArray(c) ? c : [c];
      registerTest(formatEachName(name, args, i), () => fn(...args), timeout, false);
    });
  };
  return registrar;
}

/** vitest's `each` title placeholders: %s %d %i %f %j %o %#, and $name for object cases. */
function formatEachName(template: string, args: readonly unknown[], index: number): string {
  let next = 0;
  const named = template.replace(/\$([A-Za-z_]\w*)/g, (whole, key: string) => {
    const first = args[0];
    return first !== null && typeof first === 'object' && key in first ? String((first as Record<string, unknown>)[key]) : whole;
  });
  return named.replace(/%([sdifjo#%])/g, (whole, spec: string) => {
    if (spec === '%') return '%';
    if (spec === '#') return String(index);
    if (next >= args.length) return whole;
    const value = args[next++];
    if (spec === 'd' || spec === 'i') return String(Math.trunc(Number(value)));
    if (spec === 'f') return String(Number(value));
    if (spec === 'j' || spec === 'o') return JSON.stringify(value);
    return typeof value === 'string' ? value : format(value);
  });
}

export const it = makeTestRegistrar();
export const test = it;

type SuiteRegistrar = {
  (name: string, body: () => unknown): void;
  skip: (name: string, body: () => unknown) => void;
  skipIf: (condition: unknown) => (name: string, body: () => unknown) => void;
  runIf: (condition: unknown) => (name: string, body: () => unknown) => void;
  each: <T>(cases: readonly T[]) => (name: string, body: (...args: any[]) => unknown) => void;
};

export const describe: SuiteRegistrar = Object.assign((name: string, body: () => unknown) => registerSuite(name, body, false), {
  skip: (name: string, body: () => unknown) => registerSuite(name, body, true),
  skipIf: (condition: unknown) => (name: string, body: () => unknown) => registerSuite(name, body, Boolean(condition)),
  runIf: (condition: unknown) => (name: string, body: () => unknown) => registerSuite(name, body, !condition),
  each:
    <T>(cases: readonly T[]) =>
    (name: string, body: (...args: any[]) => unknown) =>
      cases.forEach((c, i) => {
        const args = Array.isArray(c) ? c : [c];
        registerSuite(formatEachName(name, args, i), () => body(...args), false);
      }),
});

export function beforeAll(fn: HookFn): void {
  current.beforeAll.push(fn);
}
export function afterAll(fn: HookFn): void {
  current.afterAll.push(fn);
}
export function beforeEach(fn: HookFn): void {
  current.beforeEach.push(fn);
}
export function afterEach(fn: HookFn): void {
  current.afterEach.push(fn);
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions

export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** A short, readable rendering of a value for failure messages (typed arrays and long arrays are cut). */
function format(value: unknown, depth = 0): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || value === null || typeof value === 'boolean' || typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return `[Function ${value.name || 'anonymous'}]`;
  if (value instanceof RegExp) return String(value);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (depth > 2) return '[…]';
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = Array.from(value as unknown as ArrayLike<number>);
    return `${value.constructor.name}(${items.length}) [${items
      .slice(0, 16)
      .map((v) => format(v))
      .join(', ')}${items.length > 16 ? ', …' : ''}]`;
  }
  if (Array.isArray(value)) {
    return `[${value
      .slice(0, 16)
      .map((v) => format(v, depth + 1))
      .join(', ')}${value.length > 16 ? `, … (${value.length} items)` : ''}]`;
  }
  const entries = Object.entries(value);
  return `{${entries
    .slice(0, 12)
    .map(([k, v]) => `${k}: ${format(v, depth + 1)}`)
    .join(', ')}${entries.length > 12 ? ', …' : ''}}`;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object';
}

/** vitest's toEqual: recursive equality that ignores undefined-valued properties; `subset` gives toMatchObject. */
function deepEqual(a: unknown, b: unknown, subset = false): boolean {
  if (Object.is(a, b)) return true;
  if (!isPlainRecord(a) || !isPlainRecord(b)) return false;
  if (a instanceof RegExp || b instanceof RegExp) return a instanceof RegExp && b instanceof RegExp && String(a) === String(b);
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Error && b instanceof Error) return a.message === b.message && a.name === b.name;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    return a.every((v, i) => deepEqual(v, b[i], subset));
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), subset)) return false;
    return true;
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  const keysB = Object.keys(b).filter((k) => b[k] !== undefined);
  if (subset) return keysB.every((k) => k in a && deepEqual(a[k], b[k], true));
  const keysA = Object.keys(a).filter((k) => a[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysB.every((k) => deepEqual(a[k], b[k]));
}

function errorMatches(thrown: unknown, expected: unknown): { pass: boolean; what: string } {
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  if (expected === undefined) return { pass: true, what: 'to throw' };
  if (typeof expected === 'string') return { pass: message.includes(expected), what: `to throw an error containing ${format(expected)}` };
  if (expected instanceof RegExp) return { pass: expected.test(message), what: `to throw an error matching ${expected}` };
  if (typeof expected === 'function') return { pass: thrown instanceof expected, what: `to throw an instance of ${expected.name}` };
  if (expected instanceof Error) return { pass: message === expected.message, what: `to throw ${format(expected)}` };
  return { pass: false, what: `to throw ${format(expected)} (unsupported expectation)` };
}

interface MatcherResult {
  pass: boolean;
  /** Describes the expectation, e.g. 'to be 3'; the wrapper adds 'expected <actual> (not) …'. */
  what: string;
}

type Matcher = (actual: unknown, ...args: any[]) => MatcherResult;

/** In `.rejects`, the rejection reason stands for the thrown error; otherwise `actual` must be a function to call. */
const REJECTION = Symbol('rejection');

function callForThrow(actual: unknown): { threw: boolean; error: unknown } {
  if (isPlainRecord(actual) && REJECTION in actual) return { threw: true, error: (actual as { [REJECTION]: unknown })[REJECTION] };
  if (typeof actual !== 'function') throw new AssertionError(`toThrow: expected a function, got ${format(actual)}`);
  try {
    (actual as () => unknown)();
    return { threw: false, error: undefined };
  } catch (error) {
    return { threw: true, error };
  }
}

const toThrow: Matcher = (actual, expected?: unknown) => {
  const { threw, error } = callForThrow(actual);
  if (!threw) return { pass: false, what: errorMatches(undefined, expected).what + ', but it did not throw' };
  const m = errorMatches(error, expected);
  return { pass: m.pass, what: `${m.what} (threw ${format(error)})` };
};

function numeric(name: string, actual: unknown, expected: unknown): [number, number] {
  if ((typeof actual !== 'number' && typeof actual !== 'bigint') || (typeof expected !== 'number' && typeof expected !== 'bigint')) {
    throw new AssertionError(`${name}: expected numbers, got ${format(actual)} and ${format(expected)}`);
  }
  return [Number(actual), Number(expected)];
}

const MATCHERS = {
  toBe: (a, b) => ({ pass: Object.is(a, b), what: `to be ${format(b)}` }),
  toEqual: (a, b) => ({ pass: deepEqual(a, b), what: `to equal ${format(b)}` }),
  toStrictEqual: (a, b) => ({
    pass: deepEqual(a, b) && Object.getPrototypeOf(a ?? {}) === Object.getPrototypeOf(b ?? {}),
    what: `to strictly equal ${format(b)}`,
  }),
  toMatchObject: (a, b) => ({ pass: deepEqual(a, b, true), what: `to match object ${format(b)}` }),
  toBeCloseTo: (a, b, digits = 2) => {
    const [x, y] = numeric('toBeCloseTo', a, b);
    const tolerance = 10 ** -digits / 2;
    return { pass: x === y || Math.abs(x - y) < tolerance, what: `to be close to ${y} (within ${tolerance})` };
  },
  toBeGreaterThan: (a, b) => ({ pass: numeric('toBeGreaterThan', a, b)[0] > Number(b), what: `to be > ${format(b)}` }),
  toBeGreaterThanOrEqual: (a, b) => ({ pass: numeric('toBeGreaterThanOrEqual', a, b)[0] >= Number(b), what: `to be >= ${format(b)}` }),
  toBeLessThan: (a, b) => ({ pass: numeric('toBeLessThan', a, b)[0] < Number(b), what: `to be < ${format(b)}` }),
  toBeLessThanOrEqual: (a, b) => ({ pass: numeric('toBeLessThanOrEqual', a, b)[0] <= Number(b), what: `to be <= ${format(b)}` }),
  toBeNaN: (a) => ({ pass: typeof a === 'number' && Number.isNaN(a), what: 'to be NaN' }),
  toBeDefined: (a) => ({ pass: a !== undefined, what: 'to be defined' }),
  toBeUndefined: (a) => ({ pass: a === undefined, what: 'to be undefined' }),
  toBeNull: (a) => ({ pass: a === null, what: 'to be null' }),
  toBeTruthy: (a) => ({ pass: Boolean(a), what: 'to be truthy' }),
  toBeFalsy: (a) => ({ pass: !a, what: 'to be falsy' }),
  toBeInstanceOf: (a, cls: new (...args: never[]) => unknown) => ({ pass: a instanceof cls, what: `to be an instance of ${cls.name}` }),
  toHaveLength: (a, n: number) => ({
    pass: isPlainRecord(a) || typeof a === 'string' ? (a as { length?: unknown }).length === n : false,
    what: `to have length ${n}`,
  }),
  toMatch: (a, pattern: string | RegExp) => {
    if (typeof a !== 'string') throw new AssertionError(`toMatch: expected a string, got ${format(a)}`);
    return { pass: typeof pattern === 'string' ? a.includes(pattern) : pattern.test(a), what: `to match ${format(pattern)}` };
  },
  toContain: (a, item) => {
    if (typeof a === 'string') return { pass: a.includes(String(item)), what: `to contain ${format(item)}` };
    const items = isPlainRecord(a) && Symbol.iterator in a ? Array.from(a as Iterable<unknown>) : null;
    if (!items) throw new AssertionError(`toContain: expected a string or an iterable, got ${format(a)}`);
    return { pass: items.some((v) => Object.is(v, item)), what: `to contain ${format(item)}` };
  },
  toContainEqual: (a, item) => ({
    pass: Array.from(a as Iterable<unknown>).some((v) => deepEqual(v, item)),
    what: `to contain an item equal to ${format(item)}`,
  }),
  toThrow,
  toThrowError: toThrow,
} satisfies Record<string, Matcher>;

type MatcherName = keyof typeof MATCHERS;

type Assertion = { [K in MatcherName]: (...args: any[]) => void } & { not: Assertion };
type AsyncAssertion = { [K in MatcherName]: (...args: any[]) => Promise<void> } & { not: AsyncAssertion };
const MATCHER_NAMES = Object.keys(MATCHERS) as MatcherName[];

function check(actual: unknown, name: MatcherName, args: unknown[], negate: boolean, message: string | undefined): void {
  const result = (MATCHERS[name] as Matcher)(actual, ...args);
  if (result.pass === negate) {
    const shown =
      isPlainRecord(actual) && REJECTION in actual ? 'the promise' : typeof actual === 'function' ? 'the function' : format(actual);
    const text = `expected ${shown} ${negate ? 'not ' : ''}${result.what}`;
    throw new AssertionError(message ? `${message}: ${text}` : text);
  }
}

function assertion(actual: unknown, negate: boolean, message: string | undefined): Assertion {
  const a = {} as Assertion;
  for (const name of MATCHER_NAMES)
    (a as Record<string, unknown>)[name] = (...args: unknown[]) => check(actual, name, args, negate, message);
  Object.defineProperty(a, 'not', { get: () => assertion(actual, !negate, message) });
  return a;
}

/** `.resolves` / `.rejects`: wait for the promise, then match its value (or its rejection reason, as a thrown error). */
function asyncAssertion(promise: unknown, mode: 'resolves' | 'rejects', negate: boolean, message: string | undefined): AsyncAssertion {
  const settle = async (): Promise<unknown> => {
    let value: unknown;
    try {
      value = await promise;
    } catch (reason) {
      if (mode === 'resolves')
        throw new AssertionError(`${message ? `${message}: ` : ''}expected the promise to resolve, but it rejected with ${format(reason)}`);
      return { [REJECTION]: reason };
    }
    if (mode === 'rejects')
      throw new AssertionError(`${message ? `${message}: ` : ''}expected the promise to reject, but it resolved with ${format(value)}`);
    return value;
  };
  const a = {} as AsyncAssertion;
  for (const name of MATCHER_NAMES) {
    (a as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const settled = await settle();
      check(
        name === 'toThrow' || name === 'toThrowError'
          ? settled
          : isPlainRecord(settled) && REJECTION in settled
            ? settled[REJECTION]
            : settled,
        name,
        args,
        negate,
        message,
      );
    };
  }
  Object.defineProperty(a, 'not', { get: () => asyncAssertion(promise, mode, !negate, message) });
  return a;
}

type Expect = {
  (actual: unknown, message?: string): Assertion & { resolves: AsyncAssertion; rejects: AsyncAssertion };
  fail: (message?: string) => never;
};

export const expect: Expect = Object.assign(
  (actual: unknown, message?: string) =>
    Object.assign(assertion(actual, false, message), {
      get resolves() {
        return asyncAssertion(actual, 'resolves', false, message);
      },
      get rejects() {
        return asyncAssertion(actual, 'rejects', false, message);
      },
    }),
  {
    fail: (message = 'expect.fail()'): never => {
      throw new AssertionError(message);
    },
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Running

function describeError(error: unknown): string {
  if (error instanceof Error) {
    // Keep the first few stack frames: enough to find the line in the bundle's source map.
    const frames = (error.stack ?? '')
      .split('\n')
      .filter((l) => l.trim().startsWith('at '))
      .slice(0, 4);
    return [`${error.name}: ${error.message}`, ...frames].join('\n');
  }
  return format(error);
}

function withTimeout<T>(work: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve().then(work), timeout]).finally(() => clearTimeout(timer));
}

function hasRunnableTests(suite: Suite): boolean {
  return suite.children.some((c) => (c.kind === 'test' ? !c.skip : hasRunnableTests(c)));
}

/** Awaited, so the driver has every result by the time `run()` returns. */
type Report = (result: TestResult) => unknown;

async function runSuite(suite: Suite, path: string[], eachChain: Suite[], report: Report, failure: string | null): Promise<void> {
  const chain = [...eachChain, suite];
  let setupFailure = failure;
  const active = !setupFailure && hasRunnableTests(suite);
  if (active) {
    for (const hook of suite.beforeAll) {
      try {
        await withTimeout(hook, DEFAULT_TIMEOUT_MS, 'beforeAll hook');
      } catch (error) {
        setupFailure = `beforeAll failed: ${describeError(error)}`;
        break;
      }
    }
  }
  for (const child of suite.children) {
    const childPath = child.name ? [...path, child.name] : path;
    if (child.kind === 'suite') {
      await runSuite(child, childPath, chain, report, setupFailure);
      continue;
    }
    const name = childPath.join(' > ');
    if (child.skip) {
      await report({ name, status: 'skipped', ms: 0 });
      continue;
    }
    if (setupFailure) {
      await report({ name, status: 'failed', error: setupFailure, ms: 0 });
      continue;
    }
    const start = performance.now();
    let error: string | undefined;
    try {
      for (const s of chain) for (const hook of s.beforeEach) await withTimeout(hook, DEFAULT_TIMEOUT_MS, 'beforeEach hook');
      await withTimeout(child.fn, child.timeoutMs, 'test');
    } catch (e) {
      error = describeError(e);
    }
    for (const s of [...chain].reverse()) {
      for (const hook of s.afterEach) {
        try {
          await withTimeout(hook, DEFAULT_TIMEOUT_MS, 'afterEach hook');
        } catch (e) {
          error ??= `afterEach failed: ${describeError(e)}`;
        }
      }
    }
    await report({ name, status: error ? 'failed' : 'passed', error, ms: performance.now() - start });
  }
  if (active) {
    for (const hook of suite.afterAll) {
      try {
        await withTimeout(hook, DEFAULT_TIMEOUT_MS, 'afterAll hook');
      } catch (error) {
        await report({ name: [...path, 'afterAll'].join(' > ') || 'afterAll', status: 'failed', error: describeError(error), ms: 0 });
      }
    }
  }
}

/** Run every registered test once, in registration order. */
async function run(): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const forward = (globalThis as { __reportTest?: Report }).__reportTest;
  await runSuite(
    root,
    [],
    [],
    async (r) => {
      results.push(r);
      await forward?.(r);
    },
    null,
  );
  return results;
}

(globalThis as { __browserTests?: { run: typeof run } }).__browserTests = { run };
