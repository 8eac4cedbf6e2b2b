/**
 * Runs one bundled test file inside a fresh page (a fresh engine and GPU device, as vitest gives each file its
 * own worker) and collects its results, streamed from the page as each test finishes.
 */
import type { BrowserContext } from 'playwright-core';
import type { TestResult } from './vitest-shim.js';

export interface FileOutcome {
  source: string;
  results: TestResult[];
  /** Errors outside any test: the bundle failed to load, or the page threw asynchronously. */
  errors: string[];
  /** Console errors from the page (WebGPU validation messages land here), shown with failures. */
  consoleErrors: string[];
  seconds: number;
}

/** A whole file gets at most this long; a test's own 120 s timeout normally fires first. */
const FILE_TIMEOUT_MS = 15 * 60_000;

export async function runTestFile(context: BrowserContext, pageUrl: string, bundleUrl: string, source: string): Promise<FileOutcome> {
  const start = performance.now();
  const outcome: FileOutcome = { source, results: [], errors: [], consoleErrors: [], seconds: 0 };
  const page = await context.newPage();
  page.on('pageerror', (error) => outcome.errors.push(`uncaught in page: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') outcome.consoleErrors.push(message.text());
  });
  await page.exposeFunction('__reportTest', (result: TestResult) => outcome.results.push(result));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await page.goto(pageUrl);
    const run = page.evaluate(async (url) => {
      await import(url);
      await (globalThis as unknown as { __browserTests: { run(): Promise<unknown> } }).__browserTests.run();
    }, bundleUrl);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${source} did not finish within ${FILE_TIMEOUT_MS / 60_000} minutes`)), FILE_TIMEOUT_MS);
    });
    await Promise.race([run, timeout]);
  } catch (error) {
    outcome.errors.push((error as Error).message.split('\n')[0]!);
  } finally {
    clearTimeout(timer);
    await page.close();
  }
  outcome.seconds = (performance.now() - start) / 1000;
  return outcome;
}
