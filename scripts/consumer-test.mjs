/**
 * The package as an app gets it (`npm run test:package`, and in CI): `npm pack`, install the tarball into a fresh
 * temporary project, then from there
 *   - check the tarball's file list and size;
 *   - import every entry point from plain Node ESM and train a few steps with a module and an optimizer;
 *   - typecheck a strict TypeScript consumer (strict, exactOptionalPropertyTypes, no skipLibCheck) with
 *     moduleResolution bundler, node16 and node10;
 *   - bundle a browser script with esbuild and check that no Node built-in and no Dawn code is in it.
 * Prints "ok - ..." / "not ok - ..." per check and a closing "N passed, N failed" line (read by .ci/run).
 *
 * Offline: the temporary project gets a package-lock.json whose entries (URL and integrity) are copied from this
 * repository's lock for the package's dependency closure, so `npm ci --offline` takes them from the npm cache
 * that the repository's own `npm ci` filled. Nothing is fetched from the network.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const keep = process.argv.includes('--keep');

/** Limits on what users download: generous enough for growth, tight enough to catch a stray dataset or model. */
const MAX_PACKED_BYTES = 400_000;
const MAX_UNPACKED_BYTES = 1_500_000;
const MAX_FILES = 400;

let passed = 0;
let failed = 0;
function check(name, fn) {
  const t0 = performance.now();
  try {
    const note = fn();
    passed++;
    console.log(`ok - ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}`);
    return true;
  } catch (e) {
    failed++;
    const detail = [e.message, e.stdout?.toString(), e.stderr?.toString()].filter(Boolean).join('\n').trim();
    console.log(`not ok - ${name}\n${detail.replace(/^/gm, '    ')}`);
    return false;
  }
}

function sh(cmd, args, cwd, env = {}) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** What the temporary project runs: plain Node ESM, a strict TypeScript consumer, and a browser script. */
const NODE_SCRIPT = `
import * as E from 'mlock-webgpu';
import { Linear, ReLU, Sequential } from 'mlock-webgpu/nn';
import { SGD } from 'mlock-webgpu/optim';
import { evaluate } from 'mlock-webgpu/train';
import { BatchLoader, loadDataset } from 'mlock-webgpu/data';
import { encodeModel, decodeModelInto, writeFileAtomic } from 'mlock-webgpu/io';
import { LockedModel, deriveKeyedToken } from 'mlock-webgpu/mlock';
for (const [name, f] of Object.entries({ evaluate, BatchLoader, loadDataset, decodeModelInto, writeFileAtomic, LockedModel, deriveKeyedToken })) {
  if (typeof f !== 'function') throw new Error(name + ' is not exported');
}

await E.initEngine();
const model = new Sequential(new Linear(8, 16, { seed: 1 }), new ReLU(), new Linear(16, 3, { seed: 2 }));
const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
const x = E.randn([32, 8], { seed: 3 });
const y = E.tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3), [32], 'i32');
const losses = [];
for (let step = 0; step < 20; step++) {
  const loss = await E.scope(async () => {
    const l = E.crossEntropy(model.forward(x), y);
    l.backward();
    optimizer.step();
    optimizer.zeroGrad();
    return l.item();
  });
  losses.push(loss);
}
if (!(losses[19] < losses[0])) throw new Error('loss did not fall: ' + losses.join(', '));
const bytes = await encodeModel(model);
console.log('trained 20 steps: loss ' + losses[0].toFixed(3) + ' -> ' + losses[19].toFixed(3) + ', model ' + bytes.length + ' bytes');
`;

const TS_CONSUMER = `
import { initEngine, randn, scope, tensor, crossEntropy, Rng, type Tensor, type DeviceOptions } from 'mlock-webgpu';
import { Linear, ReLU, Sequential, type Module } from 'mlock-webgpu/nn';
import { Adam, SGD, cosineLr, type Optimizer } from 'mlock-webgpu/optim';
import { trainEpoch, evaluate, type EpochResult } from 'mlock-webgpu/train';
import { BatchLoader, type ImageDataset, type Normalization } from 'mlock-webgpu/data';
import { encodeSafetensors, decodeSafetensors } from 'mlock-webgpu/io';
import { LockedModel, type Prediction } from 'mlock-webgpu/mlock';

const options: DeviceOptions = { adapter: 'auto' };
export async function main(ds: ImageDataset, normalization: Normalization, bytes: Uint8Array): Promise<number> {
  await initEngine(options);
  const model: Module = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
  const optimizer: Optimizer = Math.random() > 0.5 ? new SGD(model.parameters(), { lr: 0.1 }) : new Adam(model.parameters(), { lr: 1e-3 });
  const schedule = cosineLr(0.1, 10);
  const loader = new BatchLoader(ds, { batchSize: 8, normalization });
  const result: EpochResult = await trainEpoch({ model, optimizer, loader, epoch: 0, rng: new Rng(1), schedule });
  const x: Tensor = randn([2, 4]);
  const loss = await scope(async () => crossEntropy(model.forward(x), tensor(new Int32Array(2), [2], 'i32')).item());
  const file = decodeSafetensors(encodeSafetensors({}, { note: 'x' }));
  const locked = LockedModel.load(bytes, { idleMs: 1000 });
  await locked.unlock('key');
  const p: Prediction = await locked.predict(new Uint8Array(784), 1);
  return result.loss + loss + (await evaluate(model, loader)).accuracy + p.classes.length + Object.keys(file.metadata).length;
}
`;

const BROWSER_SCRIPT = `
import { initEngine, adapterLabel, runtime } from 'mlock-webgpu';
import { Linear } from 'mlock-webgpu/nn';
import { SGD } from 'mlock-webgpu/optim';
import { BatchLoader } from 'mlock-webgpu/data';
import { decodeSafetensors } from 'mlock-webgpu/io';
import { trainEpoch } from 'mlock-webgpu/train';
import { LockedModel } from 'mlock-webgpu/mlock';
await initEngine();
document.title = adapterLabel(runtime().info);
Object.assign(globalThis, { Linear, SGD, BatchLoader, decodeSafetensors, trainEpoch, LockedModel });
`;

const work = mkdtempSync(join(tmpdir(), 'mlock-consumer-'));
const app = join(work, 'app');
mkdirSync(app);
const started = performance.now();
let packed;

try {
  const ok = check('npm pack (prepack builds dist/lib)', () => {
    const out = sh('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    packed = JSON.parse(out.slice(out.indexOf('[')))[0];
    return `${packed.filename}, ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked, ${packed.entryCount} files`;
  });
  if (!ok) throw new Error('no tarball');

  check('tarball: file list and size', () => {
    const files = packed.files.map((f) => f.path);
    const stray = files.filter((f) => !/^dist\/lib\/.+\.(js|d\.ts)$/.test(f) && !['package.json', 'README.md', 'LICENSE'].includes(f));
    if (stray.length) throw new Error(`files users do not need: ${stray.slice(0, 10).join(', ')}${stray.length > 10 ? ', ...' : ''}`);
    const targets = [pkg.main, pkg.types, ...JSON.stringify(pkg.exports).match(/\.\/dist\/[^"]+/g)].map((p) => p.replace(/^\.\//, ''));
    const missing = [...new Set(targets)].filter((t) => !files.includes(t));
    if (missing.length) throw new Error(`package.json points at files not in the tarball: ${missing.join(', ')}`);
    for (const f of files.filter((f) => f.endsWith('.js'))) {
      if (!files.includes(f.replace(/\.js$/, '.d.ts'))) throw new Error(`${f} has no .d.ts next to it`);
    }
    if (packed.size > MAX_PACKED_BYTES) throw new Error(`${packed.size} bytes packed (limit ${MAX_PACKED_BYTES})`);
    if (packed.unpackedSize > MAX_UNPACKED_BYTES) throw new Error(`${packed.unpackedSize} bytes unpacked (limit ${MAX_UNPACKED_BYTES})`);
    if (files.length > MAX_FILES) throw new Error(`${files.length} files (limit ${MAX_FILES})`);
  });

  const installed = check('install the tarball into a fresh project (npm ci --offline)', () => {
    writeAppProject();
    sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app);
  });
  if (!installed) throw new Error('not installed');

  check('Node ESM: every entry point imports; a module and an optimizer train a few steps, silently', () => {
    writeFileSync(join(app, 'train.mjs'), NODE_SCRIPT);
    const out = sh('node', ['train.mjs'], app);
    const lines = out.trim().split('\n');
    if (lines.length !== 1 || !lines[0].startsWith('trained '))
      throw new Error(`expected exactly one line from the script (the library must print nothing), got:\n${out}`);
    return lines[0];
  });

  // Library checking on (skipLibCheck false) for the three resolutions, so the package's own .d.ts are checked
  // under the consumer's flags; then a typical Node project: no DOM lib, @types/node, skipLibCheck.
  const consumers = [
    { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    { name: 'node16', module: 'node16', moduleResolution: 'node16', lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    { name: 'node10', module: 'esnext', moduleResolution: 'node10', lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    {
      name: 'node16, lib es2022 only, @types/node',
      module: 'node16',
      moduleResolution: 'node16',
      lib: ['es2022'],
      types: ['node'],
      skipLibCheck: true,
    },
  ];
  writeFileSync(join(app, 'consumer.ts'), TS_CONSUMER);
  consumers.forEach(({ name, ...options }, i) => {
    check(`TypeScript consumer typechecks (strict, exactOptionalPropertyTypes, moduleResolution ${name})`, () => {
      const config = {
        compilerOptions: {
          target: 'es2022',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          ...options,
        },
        files: ['consumer.ts'],
      };
      writeFileSync(join(app, `tsconfig.${i}.json`), JSON.stringify(config, null, 2));
      sh(join(BIN, 'tsc'), ['-p', `tsconfig.${i}.json`], app);
    });
  });

  check('browser bundle (esbuild): no Node built-in, no Dawn', () => {
    writeFileSync(join(app, 'browser.ts'), BROWSER_SCRIPT);
    const esbuild = join(BIN, 'esbuild');
    sh(
      esbuild,
      [
        'browser.ts',
        '--bundle',
        '--format=esm',
        '--platform=browser',
        '--outfile=out/browser.js',
        '--metafile=out/meta.json',
        '--log-level=error',
      ],
      app,
    );
    const meta = JSON.parse(readFileSync(join(app, 'out/meta.json'), 'utf8'));
    const inputs = Object.keys(meta.inputs);
    const dawn = inputs.filter((i) => /node_modules\/webgpu\//.test(i));
    if (dawn.length) throw new Error(`Dawn (npm webgpu) reached the browser bundle: ${dawn.join(', ')}`);
    if (!inputs.some((i) => i.includes('node_modules/mlock-webgpu/dist/lib/engine/index.js')))
      throw new Error('the bundle does not use the browser entry point');
    const nodeOnly = inputs.filter((i) => /\/node\/|engine\/node\.js$/.test(i));
    if (nodeOnly.length) throw new Error(`Node-only modules in the bundle: ${nodeOnly.join(', ')}`);
    const external = Object.values(meta.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    if (external.length) throw new Error(`the bundle still imports ${external.join(', ')}`);
    const text = readFileSync(join(app, 'out/browser.js'), 'utf8');
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const staticImports = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)]
      .map((m) => m[1])
      .filter((s) => builtins.has(s));
    if (staticImports.length) throw new Error(`the bundle imports Node built-ins: ${[...new Set(staticImports)].join(', ')}`);
    return `${(text.length / 1024).toFixed(0)} kB, ${inputs.length} modules`;
  });
} catch {
  // A failed prerequisite has been reported as a failed check; the later checks are not run.
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

console.log(`consumer test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;

/**
 * The temporary project: the tarball as its one dependency, and a lock whose entries for the package's dependency
 * closure are copied from this repository's lock (so the versions are the tested ones, and npm finds them cached).
 */
function writeAppProject() {
  const tarball = join(work, packed.filename);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const packages = {
    // @types/node: what a Node project typically has, for the Node-only (no DOM lib) typecheck.
    '': { name: 'app', dependencies: { [pkg.name]: `file:${tarball}`, '@types/node': pkg.devDependencies['@types/node'] } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: `file:${tarball}`,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      engines: pkg.engines,
    },
  };
  const seen = new Set();
  const visit = (deps, from) => {
    for (const name of Object.keys(deps ?? {})) {
      // Node's lookup: the nearest node_modules folder above the dependent that holds the package.
      let at = from;
      let key;
      for (;;) {
        key = `${at ? `${at}/` : ''}node_modules/${name}`;
        if (rootLock[key] || !at) break;
        at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '';
      }
      const entry = rootLock[key];
      if (!entry) throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || pkg.name}): run npm install`);
      if (seen.has(key)) continue;
      seen.add(key);
      const { dev, devOptional, peer, ...kept } = entry;
      packages[key] = kept;
      visit({ ...entry.dependencies, ...entry.optionalDependencies }, key);
    }
  };
  visit({ ...pkg.dependencies, '@types/node': '' }, '');
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: packages[''].dependencies }, null, 2),
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2));
}
