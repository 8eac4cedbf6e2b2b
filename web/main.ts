/**
 * The lock/unlock demo page: a locked MNIST classifier (M-LOCK) running on WebGPU in the browser. A person
 * draws a digit or picks a test image, unlocks the model with its passphrase and sees its answer with and
 * without the token; the model locks itself again after a configurable idle time.
 *
 * The model file is sealed: its weights are encrypted with the passphrase, so while locked there is nothing to
 * run and no answer to show. Once unlocked, the same model answers with the token and without it (what anyone
 * sending the same image to the running model gets).
 */
import { adapterLabel, initEngine, runtime } from '../engine/index.js';
import { LockedModel, WrongPassphraseError } from '../mlock/index.js';
import { DrawPad, greyCanvas, SIDE } from './draw-pad.js';
import { clearChart, drawChart } from './prob-chart.js';
import { parseSamples, type Sample } from './samples.js';
import { deriveDisplayToken, stampToken, wipeDisplayToken, type PlacedToken } from './token-view.js';

const MODEL_URL = 'assets/model.safetensors';
const SAMPLES_URL = 'assets/mnist-samples.bin';

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page: #${id} is missing from index.html`);
  return el as T;
}

const ui = {
  noWebgpu: $('no-webgpu'),
  adapter: $('adapter'),
  modelInfo: $('model-info'),
  pad: $<HTMLCanvasElement>('pad'),
  seen: $<HTMLCanvasElement>('seen'),
  seenCaption: $('seen-caption'),
  clear: $<HTMLButtonElement>('clear'),
  showToken: $<HTMLInputElement>('show-token'),
  inputSource: $('input-source'),
  samples: $('samples'),
  lockState: $('lock-state'),
  countdown: $('countdown'),
  unlockForm: $<HTMLFormElement>('unlock-form'),
  passphrase: $<HTMLInputElement>('passphrase'),
  unlock: $<HTMLButtonElement>('unlock'),
  lock: $<HTMLButtonElement>('lock'),
  idleSeconds: $<HTMLInputElement>('idle-seconds'),
  score: $<HTMLButtonElement>('score'),
  scoreResult: $('score-result'),
  answer: $<HTMLOutputElement>('answer'),
  answerNote: $('answer-note'),
  chartWith: $('chart-with'),
  chartWithout: $('chart-without'),
  error: $('error'),
};

interface Input {
  pixels: Uint8Array;
  /** Shown to the person: where the input came from. */
  source: string;
  label: number | null;
}

const state = {
  bytes: null as Uint8Array | null,
  model: null as LockedModel | null,
  token: null as PlacedToken | null,
  input: null as Input | null,
  samples: [] as Sample[],
  classNames: [] as string[],
};

function showError(error: unknown): void {
  ui.error.textContent =
    error instanceof WrongPassphraseError
      ? 'Wrong passphrase: nothing was decrypted, the model stays locked.'
      : error instanceof Error
        ? error.message
        : String(error);
  ui.error.hidden = false;
}

/** Run GPU work one piece at a time, in order; `data-pending` on <body> counts what is queued (tests wait on it). */
let queue: Promise<void> = Promise.resolve();
let pending = 0;
function enqueue(work: () => Promise<void>): Promise<void> {
  pending++;
  document.body.dataset.pending = String(pending);
  queue = queue
    .then(work)
    .catch(showError)
    .finally(() => {
      pending--;
      document.body.dataset.pending = String(pending);
    });
  return queue;
}

// ---------------------------------------------------------------------------------------------------------------
// Lock state

function loadModel(idleSeconds: number): void {
  state.model?.dispose();
  state.model = LockedModel.load(state.bytes!, { idleMs: idleSeconds * 1000, onLock: onLocked }, MODEL_URL);
  showLockState();
}

function onLocked(): void {
  if (state.token) wipeDisplayToken(state.token);
  state.token = null;
  showLockState();
  // The answers change the moment the model locks: show that.
  void enqueue(predictInput);
}

function showLockState(): void {
  const unlocked = state.model?.isUnlocked ?? false;
  ui.lockState.textContent = unlocked ? 'Unlocked' : 'Locked';
  ui.lockState.className = `lock-state ${unlocked ? 'unlocked' : 'locked'}`;
  ui.lock.disabled = !unlocked;
  showCountdown();
  showSeen();
}

function showCountdown(): void {
  const ms = state.model?.msUntilLock() ?? null;
  ui.countdown.textContent = ms === null ? '' : `Locks itself in ${Math.ceil(ms / 1000)} s unless used`;
  ui.countdown.dataset.seconds = ms === null ? '' : String(Math.ceil(ms / 1000));
}

async function unlock(): Promise<void> {
  const key = ui.passphrase.value;
  ui.passphrase.value = '';
  if (!key) throw new Error('Type the passphrase first.');
  const model = state.model!;
  await model.unlock(key);
  ui.error.hidden = true;
  if (state.token) wipeDisplayToken(state.token);
  state.token = await deriveDisplayToken(model, key);
  showLockState();
  await predictInput();
}

// ---------------------------------------------------------------------------------------------------------------
// Input and answers

function setInput(input: Input | null): void {
  state.input = input;
  ui.inputSource.textContent = input ? input.source : 'No input yet.';
  ui.samples
    .querySelectorAll('button')
    .forEach((b) => b.setAttribute('aria-pressed', String(input?.source === b.getAttribute('aria-label'))));
  showSeen();
  void enqueue(predictInput);
}

/** The 28x28 image the network gets, with the token on it when the person asks to see it (and it is unlocked). */
function showSeen(): void {
  const pixels = state.input?.pixels ?? new Uint8Array(SIDE * SIDE);
  const [c, h, w] = state.model?.info.inputShape ?? [1, SIDE, SIDE];
  const token = ui.showToken.checked && state.model?.isUnlocked ? state.token : null;
  greyCanvas(token ? stampToken(pixels, token, c, h, w) : pixels, SIDE, SIDE, ui.seen);
  ui.seenCaption.textContent = token
    ? `what the network sees (28×28), with the ${token.token.h}×${token.token.w} token at the place the passphrase picks`
    : 'what the network sees (28×28)';
}

const LOCKED_NOTE = 'Locked: the weights are encrypted. Unlock with the passphrase to get answers.';

async function predictInput(): Promise<void> {
  const { model, input } = state;
  if (!model) return;
  if (!input || !model.isUnlocked) {
    ui.answer.value = '–';
    ui.answerNote.textContent = input ? LOCKED_NOTE : '';
    const note = input ? LOCKED_NOTE : 'Draw a digit or pick a test image.';
    clearChart(ui.chartWith, note);
    clearChart(ui.chartWithout, note);
    return;
  }
  // Using the model counts as activity: predicting while unlocked restarts the idle countdown.
  const withToken = await model.predict(input.pixels, 1);
  const without = await model.predict(input.pixels, 1, { withToken: false });
  drawChart(ui.chartWith, withToken.probabilities, state.classNames);
  drawChart(ui.chartWithout, without.probabilities, state.classNames);
  ui.answer.value = state.classNames[withToken.classes[0]!]!;
  const truth = input.label === null ? '' : ` The true label is ${state.classNames[input.label]}.`;
  ui.answerNote.textContent = `Unlocked: the token is stamped on the input, so this is the model's real answer.${truth}`;
  showCountdown();
}

/** Accuracy on all the test images, with the token and without (needs the model unlocked: its weights). */
async function scoreSamples(): Promise<void> {
  const { model, samples } = state;
  if (!model) return;
  ui.scoreResult.dataset.locked = '';
  ui.scoreResult.dataset.unlocked = '';
  if (!model.isUnlocked) {
    ui.scoreResult.textContent = 'Unlock to score them: the weights are encrypted while the model is locked.';
    return;
  }
  const n = samples.length;
  const images = new Uint8Array(n * SIDE * SIDE);
  samples.forEach((s, i) => images.set(s.pixels, i * SIDE * SIDE));
  const correct = (classes: Int32Array): number => samples.filter((s, i) => classes[i] === s.label).length;
  const unlocked = correct((await model.predict(images, n)).classes);
  const locked = correct((await model.predict(images, n, { withToken: false })).classes);
  ui.scoreResult.dataset.locked = String(locked / n);
  ui.scoreResult.dataset.unlocked = String(unlocked / n);
  ui.scoreResult.textContent = `With the token: ${unlocked}/${n} right. Without the token: ${locked}/${n} right.`;
}

function buildGallery(): void {
  const buttons = state.samples.map((s, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('role', 'listitem');
    b.setAttribute('aria-label', `MNIST test image #${i + 1} (label ${state.classNames[s.label]})`);
    b.setAttribute('aria-pressed', 'false');
    b.dataset.index = String(i);
    b.dataset.label = String(s.label);
    b.append(greyCanvas(s.pixels, SIDE, SIDE));
    b.addEventListener('click', () => {
      pad.clear();
      pad.showImage(s.pixels);
      setInput({ pixels: s.pixels, source: b.getAttribute('aria-label')!, label: s.label });
    });
    return b;
  });
  ui.samples.replaceChildren(...buttons);
}

const pad = new DrawPad(ui.pad, () => setInput({ pixels: pad.toMnist(), source: 'Your drawing', label: null }));

// ---------------------------------------------------------------------------------------------------------------
// Start-up

async function start(): Promise<void> {
  const idleParam = Number(new URLSearchParams(location.search).get('idle'));
  if (idleParam > 0) ui.idleSeconds.value = String(idleParam);
  if (!('gpu' in navigator)) {
    ui.adapter.textContent = 'none: this browser has no WebGPU';
    ui.noWebgpu.textContent =
      'This browser has no WebGPU (navigator.gpu is missing), so the model cannot run here. Use Chrome or Edge 113 or newer ' +
      '(or Safari/Firefox with WebGPU enabled), and open the page over https or from localhost.';
    ui.noWebgpu.hidden = false;
    document.body.dataset.ready = 'no-webgpu';
    return;
  }
  await initEngine();
  const info = runtime().info;
  ui.adapter.textContent = `${adapterLabel(info)}${info.isFallbackAdapter ? ' — a software fallback: slower than a real GPU' : ''}`;
  ui.adapter.dataset.architecture = info.architecture;

  const [modelBytes, sampleBytes] = await Promise.all([MODEL_URL, SAMPLES_URL].map(fetchBytes));
  state.bytes = modelBytes!;
  state.samples = parseSamples(sampleBytes!);
  loadModel(Number(ui.idleSeconds.value));
  const { info: m, lockInfo } = state.model!;
  state.classNames = Array.from({ length: m.numClasses }, (_, k) => String(k));
  ui.modelInfo.textContent =
    `${m.name.toUpperCase()} for ${m.inputShape.join('×')} images, ${m.numClasses} classes; locked with a ` +
    `${lockInfo.geometry.h}×${lockInfo.geometry.w} keyed token (strategy ${lockInfo.strategy}); weights encrypted with the passphrase.`;
  buildGallery();

  ui.unlockForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void enqueue(unlock);
  });
  ui.lock.addEventListener('click', () => state.model?.lock());
  ui.idleSeconds.addEventListener('change', () => {
    const seconds = Number(ui.idleSeconds.value);
    if (!(seconds >= 1)) return showError(new Error('The idle time must be at least 1 second.'));
    // A LockedModel's idle time is fixed when it is loaded: reload it (which locks it).
    void enqueue(async () => {
      loadModel(seconds);
      await predictInput();
    });
  });
  ui.clear.addEventListener('click', () => {
    pad.clear();
    setInput(null);
  });
  ui.showToken.addEventListener('change', showSeen);
  ui.score.addEventListener('click', () => void enqueue(scoreSamples));
  setInterval(showCountdown, 250);
  setInput(null);
  document.body.dataset.ready = 'true';
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText} (run \`npm run build:demo-model\` to create it)`);
  return new Uint8Array(await response.arrayBuffer());
}

start().catch((error) => {
  showError(error);
  ui.adapter.textContent = ui.adapter.textContent?.startsWith('looking') ? 'no usable WebGPU adapter' : ui.adapter.textContent;
  document.body.dataset.ready = 'error';
});
