#!/usr/bin/env node
/**
 * The layering check (`npm run check:layers`, also run by `npm run lint`): every relative import, re-export and
 * dynamic import() in the source folders is resolved to a file and checked against the project's layers.
 *
 *   kernels/                generates WGSL: imports only kernels/ (nothing from the engine runtime);
 *   engine/                 runs it: never imports mlock/, web/ or bench/;
 *   mlock/, web/, bench/    use the engine through its public entry points only: the files that package.json
 *                           "exports" publishes (engine/index.ts, engine/nn/index.ts, ...), never kernels/;
 *                           web/ and bench/ use mlock/ through its entry point (mlock/index.ts) too.
 *
 * Type-only imports count: they couple the layers as much as value imports. test/ and scripts/ may import
 * anything. Prints one line per violation and exits 1 if there is any; known violations (KNOWN below) are
 * printed but do not fail, and a known violation that no longer occurs fails until it is removed from the list.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_FOLDERS = ['kernels', 'engine', 'mlock', 'web', 'bench'];

/**
 * Imports that break a rule today and are to be fixed, each with the reason it is still here. Keys are
 * "importer -> imported", paths relative to the repository root.
 */
const KNOWN = new Map([]);

/** The public entry points: the source files behind package.json "exports" (./dist/lib/X.js -> X.ts). */
function publicEntryPoints() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const targets = [];
  const collect = (value) => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(pkg.exports);
  const entries = new Set();
  for (const target of targets) {
    const m = /^\.\/dist\/lib\/(.+)\.js$/.exec(target);
    if (m) entries.add(`${m[1]}.ts`);
  }
  if (![...entries].some((e) => e.startsWith('engine/')))
    throw new Error('check-layers: package.json "exports" names no engine entry point');
  return entries;
}

function sourceFiles(folder) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(join(ROOT, folder));
  return out;
}

/** A relative specifier resolved to a repository path (`./x.js` names the source `./x.ts`), or null for a package. */
function resolveImport(importer, specifier) {
  if (!specifier.startsWith('.')) return null;
  const path = relative(ROOT, resolve(dirname(importer), specifier))
    .split(sep)
    .join('/');
  return path.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts');
}

const layerOf = (path) => path.split('/')[0];

/** The rule an import breaks, in words, or null. */
function violation(from, to, entries) {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === 'kernels' && b !== 'kernels') return `kernels/ generates code and imports only kernels/, not ${b}/`;
  if (a === 'engine' && ['mlock', 'web', 'bench'].includes(b)) return `engine/ never imports ${b}/`;
  if (['mlock', 'web', 'bench'].includes(a)) {
    if (b === 'kernels') return `${a}/ uses the engine's public entry points, not kernels/`;
    if (b === 'engine' && !entries.has(to)) return `${a}/ imports the engine only through a public entry point (package.json "exports")`;
    if (b === 'mlock' && a !== 'mlock' && !entries.has(to))
      return `${a}/ imports mlock/ only through its entry point (package.json "exports")`;
  }
  return null;
}

const entries = publicEntryPoints();
const failures = [];
const known = [];
const seenKnown = new Set();
for (const folder of SOURCE_FOLDERS) {
  for (const file of sourceFiles(folder)) {
    const from = relative(ROOT, file).split(sep).join('/');
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      const to = resolveImport(file, ref.fileName);
      if (to === null) continue;
      const rule = violation(from, to, entries);
      if (rule === null) continue;
      const key = `${from} -> ${to}`;
      if (KNOWN.has(key)) {
        seenKnown.add(key);
        known.push(`known: ${key}: ${rule} (${KNOWN.get(key)})`);
      } else failures.push(`${key}: ${rule}`);
    }
  }
}
for (const key of KNOWN.keys()) {
  if (!seenKnown.has(key))
    failures.push(`${key}: listed as a known violation in scripts/check-layers.mjs but no longer occurs; remove it from KNOWN`);
}

for (const line of known) console.log(line);
for (const line of failures) console.error(line);
console.log(`check-layers: ${failures.length} violation(s), ${known.length} known violation(s) to fix`);
process.exit(failures.length ? 1 : 0);
