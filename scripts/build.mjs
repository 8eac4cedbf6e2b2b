/**
 * Bundles with esbuild (`npm run build`):
 *   dist/web/   the lock/unlock demo page (web/), ready to serve statically
 * (The npm package itself is compiled by tsc into dist/lib/: `npm run build:lib`, run by `npm pack`.)
 * Options:
 *   --tests   also bundle the engine and kernel test files for the browser test run (dist/browser-tests/)
 *   --serve   then serve the demo on http://127.0.0.1:8000 (rebuilt on reload)
 *
 * Browser bundles must not contain Node code: any import of a Node built-in (`node:fs`, `path`, …) or of the
 * Node-only `webgpu` package fails the build, naming the importing file.
 */
import * as esbuild from 'esbuild';
import { builtinModules } from 'node:module';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const args = new Set(process.argv.slice(2));

const NODE_ONLY_PACKAGES = ['webgpu'];
const NODE_ONLY = new RegExp(
  `^(node:.*|(${[...builtinModules, ...NODE_ONLY_PACKAGES].map((m) => m.replace(/[/.]/g, '\\$&')).join('|')})(/.*)?)$`,
);

/**
 * Refuse Node-only imports in a browser bundle. `found` (when given) collects them instead of failing, for the
 * test bundler, which skips test files that need Node rather than failing the run.
 */
function browserOnly(found) {
  return {
    name: 'browser-only',
    setup(build) {
      build.onResolve({ filter: NODE_ONLY }, (a) => {
        const importer = relative(ROOT, a.importer);
        if (found) {
          found.push(`${importer} imports ${a.path}`);
          return { path: a.path, external: true };
        }
        return { errors: [{ text: `${importer} imports the Node-only module '${a.path}': browser bundles must not use Node APIs` }] };
      });
    },
  };
}

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning', absWorkingDir: ROOT };

/** Source files already reported by checkBrowserOutputs (the libraries and the demo share most of them). */
const warned = new Set();

/**
 * Fail unless every browser output is self-contained: no import left for the browser to resolve. A Node module
 * name hidden in a string (a dynamic import the bundler cannot see, guarded to run only in Node) is reported.
 */
async function checkBrowserOutputs(metafile) {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    const external = output.imports.filter((i) => i.external).map((i) => i.path);
    if (external.length) throw new Error(`${file} still imports ${external.join(', ')}: a browser bundle must be self-contained`);
  }
  for (const input of Object.keys(metafile.inputs)) {
    if (warned.has(input)) continue;
    const names = (await readFile(join(ROOT, input), 'utf8')).match(/['"`]node:[\w/]+['"`]/g);
    if (!names) continue;
    warned.add(input);
    console.warn(
      `warning: ${input} (in a browser bundle) names ${[...new Set(names)].join(', ')}: it must only load them when running in Node`,
    );
  }
}

const demoOptions = {
  ...common,
  platform: 'browser',
  entryPoints: { main: 'web/main.ts' },
  outdir: join(DIST, 'web'),
  metafile: true,
  plugins: [browserOnly()],
};

/** The demo: its bundle plus the static files (HTML, CSS, the model and sample images) next to it. */
async function buildDemo() {
  await rm(join(DIST, 'web'), { recursive: true, force: true });
  await checkBrowserOutputs((await esbuild.build(demoOptions)).metafile);
  for (const file of ['index.html', 'style.css', 'assets']) await cp(join(ROOT, 'web', file), join(DIST, 'web', file), { recursive: true });
}

const TEST_DIRS = ['test/engine', 'test/kernels'];

function testBundleOptions(source, outfile, nodeImports) {
  return {
    ...common,
    platform: 'browser',
    entryPoints: [source],
    outfile,
    write: false,
    // Bundling errors are reported per file by the test run.
    logLevel: 'silent',
    plugins: [
      {
        name: 'browser-test-aliases',
        setup(build) {
          build.onResolve({ filter: /^vitest$/ }, () => ({ path: join(ROOT, 'test/browser/vitest-shim.ts') }));
          build.onResolve({ filter: /\/engine\/node\.js$/ }, () => ({ path: join(ROOT, 'engine/index.ts') }));
        },
      },
      browserOnly(nodeImports),
    ],
  };
}

/**
 * One bundle per test file (each runs in its own page, as each runs in its own worker under vitest), with
 * `vitest` replaced by the in-page shim and the Node entry point by the platform-neutral one. Files that still
 * reach Node built-ins (datasets, files) are listed as skipped, with the import that rules them out.
 */
async function buildTests() {
  const out = join(DIST, 'browser-tests');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const manifest = { files: [], skipped: [], broken: [] };
  for (const dir of TEST_DIRS) {
    const names = (await readdir(join(ROOT, dir))).filter((f) => f.endsWith('.test.ts')).sort();
    for (const name of names) {
      const source = `${dir}/${name}`;
      const bundle = join(out, source.replace(/\.ts$/, '.js'));
      const nodeImports = [];
      let result;
      try {
        result = await esbuild.build(testBundleOptions(source, bundle, nodeImports));
      } catch (error) {
        // A file that does not bundle (e.g. it imports a module not written yet) is a failure of that file.
        manifest.broken.push({
          source,
          error: error.errors?.map((e) => `${e.location?.file ?? ''}:${e.location?.line ?? ''} ${e.text}`).join('; ') ?? String(error),
        });
        continue;
      }
      if (nodeImports.length) {
        manifest.skipped.push({ source, reason: `needs Node built-ins (${[...new Set(nodeImports)].join('; ')})` });
        continue;
      }
      for (const file of result.outputFiles) {
        await mkdir(dirname(file.path), { recursive: true });
        await writeFile(file.path, file.contents);
      }
      manifest.files.push({ source, bundle: relative(out, bundle) });
    }
  }
  await cp(join(ROOT, 'test/browser/test-page.html'), join(out, 'index.html'));
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

const started = performance.now();
await buildDemo();
if (args.has('--tests')) {
  const { files, skipped, broken } = await buildTests();
  console.log(`browser tests: ${files.length} bundled, ${skipped.length} skipped, ${broken.length} failed to bundle`);
}
console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);

if (args.has('--serve')) {
  const ctx = await esbuild.context(demoOptions);
  const { hosts, port } = await ctx.serve({ servedir: join(DIST, 'web'), host: '127.0.0.1', port: 8000 });
  console.log(`demo: http://${hosts[0]}:${port}/  (Ctrl+C to stop)`);
}
