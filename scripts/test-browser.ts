/**
 * `npm run test:browser`: the engine's op and kernel tests, run inside headless Chromium's WebGPU, then the
 * demo page driven like a person would. Builds everything (`scripts/build.mjs --tests`), serves dist/ on
 * 127.0.0.1, runs each test bundle in its own page, prints every failure and a closing `N passed, N failed`,
 * and exits non-zero on any failure.
 *
 * Environment: BROWSER_TEST_WORKERS (pages running at once, default 2), CHROMIUM (browser executable),
 * BROWSER_TEST_FILTER (substring: run only matching test files, and skip the demo unless it matches 'demo').
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../test/browser/chromium.js';
import { runDemoChecks } from '../test/browser/demo.spec.js';
import { runTestFile, type FileOutcome } from '../test/browser/run-suite.js';
import { serveDirectory } from '../test/browser/server.js';

interface Manifest {
  files: { source: string; bundle: string }[];
  skipped: { source: string; reason: string }[];
  broken: { source: string; error: string }[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKERS = Math.max(1, Number(process.env.BROWSER_TEST_WORKERS ?? 2));
const FILTER = process.env.BROWSER_TEST_FILTER ?? '';
const started = performance.now();
let passed = 0;
let failed = 0;
let skipped = 0;

function indent(text: string, prefix = '      '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function finish(): never {
  console.log(
    `\nbrowser run took ${((performance.now() - started) / 1000).toFixed(0)} s${skipped ? `; ${skipped} tests skipped (it.skip)` : ''}`,
  );
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--tests'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('FAIL the build (scripts/build.mjs --tests) failed; nothing was run');
  failed++;
  finish();
}
const manifest = JSON.parse(await readFile(join(ROOT, 'dist/browser-tests/manifest.json'), 'utf8')) as Manifest;
for (const s of manifest.skipped) console.log(`SKIP ${s.source}: ${s.reason}`);
for (const b of manifest.broken) {
  console.log(`FAIL ${b.source}: does not bundle for the browser\n${indent(b.error)}`);
  failed++;
}

const server = await serveDirectory(join(ROOT, 'dist'));
const browser = await launchChromium();
try {
  const probe = await browser.context.newPage();
  await probe.goto(`${server.url}browser-tests/index.html`);
  const adapter = await probe.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    const info = (await gpu?.requestAdapter())?.info;
    return info
      ? {
          vendor: info.vendor,
          architecture: info.architecture,
          description: info.description,
          isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
        }
      : null;
  });
  await probe.close();
  if (!adapter) {
    console.log('FAIL this Chromium exposes no WebGPU adapter (navigator.gpu missing or requestAdapter() returned null)');
    failed++;
    finish();
  }
  console.log(`Chromium WebGPU adapter: ${JSON.stringify(adapter)}`);

  const files = manifest.files.filter((f) => f.source.includes(FILTER));
  const report = (o: FileOutcome): void => {
    const bad = o.results.filter((r) => r.status === 'failed');
    const good = o.results.filter((r) => r.status === 'passed').length;
    const ok = bad.length === 0 && o.errors.length === 0;
    console.log(
      `${ok ? 'PASS' : 'FAIL'} ${o.source} (${good} passed${bad.length ? `, ${bad.length} failed` : ''}, ${o.seconds.toFixed(1)} s)`,
    );
    for (const r of bad) console.log(`  ✗ ${r.name}\n${indent(r.error ?? '')}`);
    for (const e of o.errors) console.log(`  ✗ ${e}`);
    if (!ok && o.consoleErrors.length) console.log(`  page console errors:\n${indent(o.consoleErrors.slice(-5).join('\n'))}`);
    passed += good;
    failed += bad.length + o.errors.length;
    skipped += o.results.filter((r) => r.status === 'skipped').length;
  };
  const queue = [...files];
  await Promise.all(
    Array.from({ length: Math.min(WORKERS, queue.length) }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        report(
          await runTestFile(browser.context, `${server.url}browser-tests/index.html`, `${server.url}browser-tests/${f.bundle}`, f.source),
        );
      }
    }),
  );

  if (!FILTER || 'demo'.includes(FILTER)) {
    const outDir = join(ROOT, 'runs/browser');
    await mkdir(outDir, { recursive: true });
    const demoStart = performance.now();
    const { checks, screenshots } = await runDemoChecks(browser.context, `${server.url}web/`, outDir);
    const bad = checks.filter((c) => !c.passed);
    console.log(
      `${bad.length ? 'FAIL' : 'PASS'} demo page (${checks.length - bad.length} checks passed${bad.length ? `, ${bad.length} failed` : ''}, ${((performance.now() - demoStart) / 1000).toFixed(1)} s)`,
    );
    for (const c of checks) console.log(`  ${c.passed ? '✓' : '✗'} ${c.name}${c.passed ? '' : `\n${indent(c.error ?? '')}`}`);
    for (const file of screenshots) console.log(`  screenshot: ${file}`);
    passed += checks.length - bad.length;
    failed += bad.length;
  }
} finally {
  await browser.close();
  await server.close();
}
finish();
