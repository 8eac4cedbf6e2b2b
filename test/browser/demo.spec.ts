/**
 * The demo page driven like a person would: pick a test image, try a wrong passphrase, unlock with the right
 * one, read the answers, lock, wait for the idle lock, show the token, draw a digit. The model file is sealed,
 * so while locked the page has no weights and shows no answer. Each check is counted by the browser test run;
 * the scenario stops at the first failing check (later ones depend on it). Screenshots go to `outDir`.
 */
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

export interface CheckResult {
  name: string;
  passed: boolean;
  error?: string;
}

export interface DemoOutcome {
  checks: CheckResult[];
  screenshots: string[];
}

const PASSPHRASE = 'demo passphrase';
const IDLE_SECONDS = 3;

/** Thrown after a failed check: the remaining steps build on it, so the scenario ends there. */
class ScenarioStopped extends Error {}

function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function open(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  // Background tabs are throttled and may not take clicks: the page under test is always the front one.
  await page.bringToFront();
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 120_000 });
  return page;
}

/** Wait until the page has finished all queued GPU work. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.pending === '0', null, { timeout: 60_000 });
}

async function readState(page: Page) {
  return page.evaluate(() => ({
    lock: document.getElementById('lock-state')!.textContent,
    answer: (document.getElementById('answer') as HTMLOutputElement).value,
    withTop: document.getElementById('chart-with')!.dataset.top ?? null,
    withoutTop: document.getElementById('chart-without')!.dataset.top ?? null,
    countdown: document.getElementById('countdown')!.dataset.seconds ?? '',
    error: document.getElementById('error')!.hidden ? null : document.getElementById('error')!.textContent,
  }));
}

async function pickSample(page: Page, index: number): Promise<void> {
  await page.click(`#samples button[data-index="${index}"]`);
  await settled(page);
}

async function unlock(page: Page, passphrase: string): Promise<void> {
  await page.fill('#passphrase', passphrase);
  await page.click('#unlock');
  await settled(page);
}

/** Pixels of the 28x28 "what the network sees" canvas (red channel). */
async function seenPixels(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const c = document.getElementById('seen') as HTMLCanvasElement;
    const rgba = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    return Array.from({ length: c.width * c.height }, (_, i) => rgba[4 * i]!);
  });
}

export async function runDemoChecks(context: BrowserContext, demoUrl: string, outDir: string): Promise<DemoOutcome> {
  const checks: CheckResult[] = [];
  const screenshots: string[] = [];
  const pageErrors: string[] = [];
  const pages: Page[] = [];
  const check = async (name: string, body: () => void | Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (error) {
      checks.push({ name, passed: false, error: (error as Error).message });
      throw new ScenarioStopped();
    }
    checks.push({ name, passed: true });
  };

  // Shared by the steps below: the test image the scenario uses, its label and its token-free answer.
  let page!: Page;
  let sample = -1;
  let label = '';
  let lockedAnswer = '';
  try {
    await check('the page loads and names the WebGPU adapter it runs on', async () => {
      page = await open(context, demoUrl, pageErrors);
      pages.push(page);
      const ready = await page.evaluate(() => document.body.dataset.ready);
      const s = await readState(page);
      expectThat(ready === 'true', `the page did not start (data-ready=${ready}): ${s.error}`);
      const shown = await page.evaluate(() => ({
        text: document.getElementById('adapter')!.textContent ?? '',
        arch: document.getElementById('adapter')!.dataset.architecture,
      }));
      const actual = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.info.architecture ?? null);
      expectThat(
        shown.arch === actual && shown.text.includes(actual ?? '?'),
        `adapter shown as "${shown.text}", but the browser's adapter is ${actual}`,
      );
    });

    await check('while locked, a test image gets no answer (the weights are encrypted) and both charts stay empty', async () => {
      await pickSample(page, 0);
      const s = await readState(page);
      expectThat(
        s.lock === 'Locked' && s.answer === '–' && s.withTop === null && s.withoutTop === null,
        `locked page shows ${JSON.stringify(s)}`,
      );
    });

    await check('a wrong passphrase is refused ("wrong passphrase") and the page stays locked, with no answer', async () => {
      await unlock(page, 'not the passphrase');
      const s = await readState(page);
      expectThat(/wrong passphrase/i.test(s.error ?? ''), `error shown after a wrong passphrase: ${JSON.stringify(s.error)}`);
      expectThat(
        s.lock === 'Locked' && s.answer === '–' && s.withTop === null && s.countdown === '',
        `after a wrong passphrase: ${JSON.stringify(s)}`,
      );
    });

    await check(
      'unlocking with the passphrase gives the right answer, a wrong one without the token, and starts the idle countdown',
      async () => {
        await unlock(page, PASSPHRASE);
        const first = await readState(page);
        expectThat(first.lock === 'Unlocked' && first.error === null, `after unlocking: ${JSON.stringify(first)}`);
        // The first gallery image that the model gets wrong without the token: there the token visibly matters.
        const labels = await page.$$eval('#samples button', (bs) => bs.map((b) => (b as HTMLElement).dataset.label!));
        let s = first;
        for (let i = 0; i < labels.length && sample < 0; i++) {
          await pickSample(page, i);
          s = await readState(page);
          if (s.withoutTop !== labels[i]) [sample, label, lockedAnswer] = [i, labels[i]!, s.withoutTop!];
        }
        expectThat(sample >= 0, `without the token the model answered all ${labels.length} test images correctly: it is not locked`);
        expectThat(
          s.answer === label && s.withTop === label,
          `test image #${sample + 1} (label ${label}): unlocked answer ${s.answer}, chart top ${s.withTop}`,
        );
        const seconds = Number(s.countdown);
        expectThat(seconds >= 1 && seconds <= 60, `countdown shows ${JSON.stringify(s.countdown)} s, expected 1..60`);
        const field = await page.inputValue('#passphrase');
        expectThat(field === '', 'the passphrase is still in the input field after unlocking');
      },
    );

    await check('scored on every gallery image: right with the token (>= 80%), near chance without it (<= 40%)', async () => {
      await page.click('#score');
      await settled(page);
      const score = await page.$eval('#score-result', (e) => ({
        unlocked: Number((e as HTMLElement).dataset.unlocked),
        locked: Number((e as HTMLElement).dataset.locked),
        text: e.textContent,
      }));
      expectThat(score.unlocked >= 0.8 && score.locked <= 0.4, `scores: ${score.text}`);
    });

    await check('"show the token" stamps it in one token-sized patch of the image the network sees, and nowhere else', async () => {
      await pickSample(page, sample);
      const info = (await page.textContent('#model-info')) ?? '';
      const size = /(\d+)×(\d+) keyed token/.exec(info);
      expectThat(size !== null, `the model info does not name the token size: ${info}`);
      const [th, tw] = [Number(size![1]), Number(size![2])];
      const before = await seenPixels(page);
      await page.check('#show-token');
      const after = await seenPixels(page);
      const changed = after.flatMap((v, i) => (v !== before[i] ? [i] : []));
      expectThat(changed.length > 0, 'the image did not change when the token was shown');
      const rows = changed.map((i) => Math.floor(i / 28));
      const cols = changed.map((i) => i % 28);
      const [h, w] = [Math.max(...rows) - Math.min(...rows) + 1, Math.max(...cols) - Math.min(...cols) + 1];
      expectThat(h <= th && w <= tw, `the changed pixels span ${h}x${w}, more than the ${th}x${tw} token`);
      const file = join(outDir, 'demo.png');
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
    });

    await check('locking takes every answer away again', async () => {
      await page.click('#lock');
      await settled(page);
      const s = await readState(page);
      expectThat(s.lock === 'Locked' && s.withTop === null && s.withoutTop === null, `after locking: ${JSON.stringify(s)}`);
      expectThat(
        s.answer === '–',
        `after locking, test image #${sample + 1} (label ${label}) is answered ${s.answer} (without the token it was ${lockedAnswer}), expected no answer`,
      );
      const seen = await seenPixels(page);
      await page.uncheck('#show-token');
      const plain = await seenPixels(page);
      expectThat(
        seen.every((v, i) => v === plain[i]),
        'the token is still drawn on the image after locking',
      );
      const file = join(outDir, 'demo-locked.png');
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
    });

    await check('a drawn vertical stroke is centred like an MNIST digit and read as 1 once unlocked', async () => {
      await page.click('#clear');
      await settled(page);
      await unlock(page, PASSPHRASE);
      const box = (await page.locator('#pad').boundingBox())!;
      // Slightly off-centre and short, as people draw: the MNIST-style preprocessing must centre and scale it.
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.15);
      await page.mouse.down();
      for (let t = 1; t <= 10; t++) await page.mouse.move(box.x + box.width * (0.3 + 0.01 * t), box.y + box.height * (0.15 + 0.05 * t));
      await page.mouse.up();
      await settled(page);
      const pixels = await seenPixels(page);
      const mass = pixels.reduce((a, v) => a + v, 0);
      const cy = pixels.reduce((a, v, i) => a + v * (Math.floor(i / 28) + 0.5), 0) / mass;
      const cx = pixels.reduce((a, v, i) => a + v * ((i % 28) + 0.5), 0) / mass;
      expectThat(
        mass > 0 && Math.abs(cx - 14) <= 1 && Math.abs(cy - 14) <= 1,
        `drawn digit's centre of mass at (${cx.toFixed(1)}, ${cy.toFixed(1)}), expected about (14, 14)`,
      );
      const s = await readState(page);
      expectThat(s.answer === '1', `a vertical stroke was read as ${s.answer}`);
    });

    await check(`the model locks itself after ${IDLE_SECONDS} s without use, and the answer goes away`, async () => {
      const idle = await open(context, `${demoUrl}?idle=${IDLE_SECONDS}`, pageErrors);
      pages.push(idle);
      await pickSample(idle, sample);
      await unlock(idle, PASSPHRASE);
      const unlocked = await readState(idle);
      expectThat(
        unlocked.lock === 'Unlocked' && unlocked.answer === label && Number(unlocked.countdown) <= IDLE_SECONDS,
        `after unlocking: ${JSON.stringify(unlocked)}`,
      );
      await idle.waitForFunction(() => document.getElementById('lock-state')!.textContent === 'Locked', null, {
        timeout: (IDLE_SECONDS + 10) * 1000,
      });
      await settled(idle);
      const s = await readState(idle);
      expectThat(s.answer === '–' && s.withTop === null && s.countdown === '', `after the idle lock: ${JSON.stringify(s)}`);
    });

    await check('a browser without WebGPU gets a clear message instead of a broken page', async () => {
      const bare = await context.newPage();
      pages.push(bare);
      await bare.addInitScript(() => {
        delete (Navigator.prototype as { gpu?: unknown }).gpu;
      });
      await bare.goto(demoUrl);
      await bare.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 30_000 });
      const shown = await bare.evaluate(() => ({
        ready: document.body.dataset.ready,
        banner: document.getElementById('no-webgpu')!.hidden ? null : document.getElementById('no-webgpu')!.textContent,
      }));
      expectThat(
        shown.ready === 'no-webgpu' && /no WebGPU/.test(shown.banner ?? ''),
        `page without navigator.gpu: ${JSON.stringify(shown)}`,
      );
    });

    await check('no uncaught errors in the demo pages', () => {
      expectThat(pageErrors.length === 0, pageErrors.join('\n'));
    });
  } catch (error) {
    if (!(error instanceof ScenarioStopped)) throw error;
  } finally {
    for (const p of pages) await p.close();
  }
  return { checks, screenshots };
}
