/**
 * The CLI's declared options: every option once, with how its text is checked and turned into a value, and
 * one entry per subcommand listing the options it takes. Parsing (Node's util.parseArgs, strict) and every
 * check here run before any GPU or data work; errors name the option and say what was expected, in the
 * user's terms. A new subcommand is one entry in COMMANDS (and its function in commands.ts).
 */
import { PAPER_TOKEN_NAMES } from './tokens.js';
import { parseStrategy, STRATEGIES, type StrategyConfig } from './strategies.js';

/** How an option's text becomes a value; `parse` throws a message that the parser prefixes with the option. */
interface Kind<T> {
  metavar: string;
  parse(text: string): T;
}

function wholeNumber(min: number): Kind<number> {
  return {
    metavar: 'N',
    parse(text) {
      if (!/^[+-]?\d+$/.test(text.trim())) throw new Error(`expected a whole number${min > 0 ? ` of at least ${min}` : ''}, got '${text}'`);
      const x = Number(text);
      if (x < min) throw new Error(`must be at least ${min}, got ${text}`);
      return x;
    },
  };
}

function decimal(metavar: string, test: (x: number) => boolean, expected: string): Kind<number> {
  return {
    metavar,
    parse(text) {
      const x = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(x) || !test(x)) throw new Error(`expected ${expected}, got '${text}'`);
      return x;
    },
  };
}

function oneOf<T extends string>(values: readonly T[]): Kind<T> {
  return {
    metavar: values.join('|'),
    parse(text) {
      if (!(values as readonly string[]).includes(text)) throw new Error(`expected one of ${values.join(', ')}, got '${text}'`);
      return text as T;
    },
  };
}

function words(metavar: string): Kind<string> {
  return {
    metavar,
    parse(text) {
      if (text === '') throw new Error('must not be empty');
      return text;
    },
  };
}

const strategy: Kind<StrategyConfig | null> = {
  metavar: 'NAME',
  parse(text) {
    if (text === 'none') return null;
    try {
      return parseStrategy(text);
    } catch {
      throw new Error(`expected none, ${STRATEGIES.map((s) => s.name).join(', ')} or fixed-target:K (K a class number), got '${text}'`);
    }
  },
};

const FLAG = { metavar: '', parse: () => true } satisfies Kind<boolean>;

export const DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'svhn', 'gtsrb', 'folder'] as const;

interface OptionSpec<T> {
  kind: Kind<T>;
  help: string;
  boolean?: true;
}

const option = <T>(kind: Kind<T>, help: string): OptionSpec<T> => ({ kind, help });
const flag = (help: string): OptionSpec<boolean> => ({ kind: FLAG, help, boolean: true });

export const OPTIONS = {
  dataset: option(oneOf(DATASETS), 'dataset (train default mnist; eval/attack/predict default: the one recorded in the model)'),
  data: option(words('PATH'), 'dataset file or folder instead of the default location'),
  model: option(oneOf(['mlp', 'vgg', 'lenet5'] as const), "architecture (default: the paper's model for the dataset)"),
  width: option(wholeNumber(1), 'VGG width (paper: 32 for SVHN, 128 for CIFAR/GTSRB)'),
  strategy: option(
    strategy,
    `${STRATEGIES.map((s) => s.name).join(' | ')} | none (plain training); fixed-target:K picks class K (default random-label)`,
  ),
  epochs: option(wholeNumber(1), 'training epochs'),
  'lock-epochs': option(wholeNumber(1), 'epochs of locked training (default: --epochs; the baseline keeps --epochs)'),
  'batch-size': option(wholeNumber(1), 'batch size'),
  lr: option(
    decimal('X', (x) => x > 0, 'a learning rate above 0'),
    'learning rate',
  ),
  optimizer: option(oneOf(['sgd', 'adam', 'adamw'] as const), "optimizer (default: the dataset's recipe)"),
  key: option(
    words('SECRET'),
    'the secret: the token is derived from it (HMAC-SHA256) and a keyed locked model is saved sealed with it (AES-256-GCM, PBKDF2 600,000 rounds); never stored in model files',
  ),
  token: option(oneOf(PAPER_TOKEN_NAMES), 'a public paper pattern instead of a key'),
  placement: option(
    oneOf(['keyed', 'fixed', 'random'] as const),
    "token placement: keyed (a secret place derived from the key; default with --key), fixed (the paper's bottom-right, 1-pixel margin; default with --token) or random",
  ),
  'token-size': option(wholeNumber(2), 'keyed token size in pixels (default 8 on greyscale, 5 on RGB images)'),
  levels: option(wholeNumber(2), 'values per channel of a keyed token (default 2: black and white)'),
  'poison-ratio': option(
    decimal('P', (x) => x >= 0 && x <= 1, 'a share between 0 and 1'),
    'share of token-free samples per epoch (default 0.5)',
  ),
  'decoy-ratio': option(
    decimal('P', (x) => x >= 0 && x <= 1, 'a share between 0 and 1'),
    "share of token-free samples carrying decoy tokens (default 0.9; 0 = the paper's scheme)",
  ),
  'train-subset': option(wholeNumber(1), 'use N sampled training images'),
  'test-subset': option(wholeNumber(1), 'use N sampled test images'),
  'forged-keys': option(wholeNumber(0), 'random other keys the audit tries as forged tokens (default 1000)'),
  samples: option(wholeNumber(1), 'test images each forged token is scored on in the audit (default 500)'),
  'per-distance': option(
    wholeNumber(1),
    'sampled near-miss variants per distance 2-8 in the audit, and as many with more cells changed (default 200)',
  ),
  'no-baseline': flag('skip the unlocked baseline run'),
  'warm-start': flag('lock the baseline: train it first, then start locked training from its weights'),
  seed: option(wholeNumber(0), 'random seed (default 0)'),
  out: option(words('DIR'), 'run folder (train default runs/<dataset>-<strategy>-<time>); must be new or empty'),
  resume: flag("continue the run in --out from its last finished epoch (its settings must match this command's)"),
  force: flag('replace whatever --out holds'),
  'max-minutes': option(
    decimal('M', (x) => x > 0, 'minutes above 0'),
    'stop after the epoch that passes M minutes of training',
  ),
  json: option(words('FILE'), 'also write the JSON report to FILE'),
  from: option(words('PATH'), 'a run folder or its model.safetensors'),
  image: option(words('FILE'), 'a PNG, JPEG or PPM image to classify (else --count test images)'),
  count: option(wholeNumber(1), 'how many test images to classify (default 8)'),
  markdown: option(words('FILE'), 'also write a Markdown table to FILE'),
  steps: option(wholeNumber(1), 'trigger-search steps of the reverse-engineering attack (default 200)'),
  quick: flag('the short configuration'),
  scale: option(
    oneOf(['cpu', 'paper'] as const),
    "report plan: cpu (default: this machine's 6-hour budget) or paper (the paper's VGG width 128, for a GPU)",
  ),
  render: flag('only write the report and its figures again from the cached rows (nothing is trained)'),
  seeds: option(wholeNumber(1), 'seeds of the CNN rows (the MLP rows always have 3)'),
  verbose: flag("also show Dawn's messages while it probes GPU drivers"),
  help: flag('this help'),
} as const;

export type OptionName = keyof typeof OPTIONS;
export type Values = { -readonly [K in OptionName]?: ReturnType<(typeof OPTIONS)[K]['kind']['parse']> };

const TRAIN: OptionName[] = [
  'dataset',
  'data',
  'model',
  'width',
  'strategy',
  'epochs',
  'lock-epochs',
  'batch-size',
  'lr',
  'optimizer',
  'key',
  'token',
  'placement',
  'token-size',
  'levels',
  'poison-ratio',
  'decoy-ratio',
  'train-subset',
  'test-subset',
  'forged-keys',
  'samples',
  'per-distance',
  'no-baseline',
  'warm-start',
  'seed',
  'out',
  'resume',
  'force',
  'max-minutes',
  'json',
];

const AUDIT: OptionName[] = [
  'from',
  'key',
  'token',
  'dataset',
  'data',
  'test-subset',
  'forged-keys',
  'samples',
  'per-distance',
  'seed',
  'json',
  'markdown',
];

export interface CommandSpec {
  summary: string;
  options: readonly OptionName[];
  /** Options the command cannot run without. */
  required?: readonly OptionName[];
  /** Checks that involve several options (each option's own value is already checked). */
  check?(v: Values): void;
  run(v: Values): Promise<void>;
}

function trainChecks(v: Values): void {
  if (v.key !== undefined && v.token !== undefined) throw new Error('--key and --token both choose the token: pass one');
  if (v.strategy === null && (v.key !== undefined || v.token !== undefined))
    throw new Error('--strategy none trains a plain model: it takes no --key or --token');
  if (v.resume && v.force) throw new Error('--resume continues the run in --out and --force replaces it: pass one');
  if (v.key === undefined && (v['token-size'] !== undefined || v.levels !== undefined))
    throw new Error('--token-size and --levels shape a keyed token: they need --key');
  if (v.key === undefined && v.placement === 'keyed') throw new Error('--placement keyed derives the place from the key: it needs --key');
  if (v['lock-epochs'] !== undefined && v.strategy === null)
    throw new Error('--lock-epochs sets the locked training: --strategy none has none');
  if (v['warm-start'] && (v['no-baseline'] || v.strategy === null))
    throw new Error(
      '--warm-start locks the unlocked baseline: it needs a locked run with its baseline (no --no-baseline, no --strategy none)',
    );
}

function tokenChecks(v: Values): void {
  if (v.key !== undefined && v.token !== undefined) throw new Error('--key and --token both choose the token: pass one');
}

/** Each command's module is loaded only when it runs, so parsing and --help never start the engine. */
const commands = () => import('./commands.js');

export const COMMANDS: Record<string, CommandSpec> = {
  demo: {
    summary: 'train a locked MLP on MNIST (small: a few minutes on a software adapter) into runs/demo, replacing the last demo',
    options: TRAIN,
    check: trainChecks,
    run: async (v) => (await commands()).trainCommand(v, 'demo'),
  },
  train: {
    summary: 'train a model, locked unless --strategy none',
    options: TRAIN,
    check(v) {
      trainChecks(v);
      if (v.resume && v.out === undefined) throw new Error('--resume needs --out: the run folder to continue');
    },
    run: async (v) => (await commands()).trainCommand(v, 'train'),
  },
  eval: {
    summary:
      "the lock's audit of a saved locked model: authorized / unauthorized accuracy, every forgery (worst next to mean), expected guesses",
    options: AUDIT,
    required: ['from'],
    check: tokenChecks,
    run: async (v) => (await commands()).evalCommand(v),
  },
  audit: {
    summary: 'eval plus the attacks of whoever holds the decrypted weights: fine-tuning on 1% of clean data, trigger search',
    options: [...AUDIT, 'train-subset', 'steps'],
    required: ['from'],
    check: tokenChecks,
    run: async (v) => (await commands()).evalCommand(v, 'audit'),
  },
  attack: {
    summary: 'fine-tuning, pruning and trigger reverse-engineering attacks on a saved locked model',
    options: ['from', 'key', 'token', 'dataset', 'data', 'train-subset', 'test-subset', 'epochs', 'steps', 'seed', 'json'],
    required: ['from'],
    check: tokenChecks,
    run: async (v) => (await commands()).attackCommand(v),
  },
  predict: {
    summary: 'classify images with a saved model (plain, pattern-locked or key-locked), with and without the token',
    options: ['from', 'key', 'token', 'image', 'count', 'dataset', 'data'],
    required: ['from'],
    check: tokenChecks,
    run: async (v) => (await commands()).predictCommand(v),
  },
  export: {
    summary: "write a sealed locked model's weights UNENCRYPTED to --out (the owner's explicit choice; needs --key)",
    options: ['from', 'key', 'out'],
    required: ['from', 'key', 'out'],
    run: async (v) => (await commands()).exportCommand(v),
  },
  report: {
    summary:
      'the reproduction report (mlock/REPORT.md): 4 datasets x (3 strategies + baseline) x seeds, the audit in every row, white-box attacks',
    options: ['quick', 'scale', 'render', 'width', 'seeds'],
    check(v) {
      if (v.quick && v.scale !== undefined) throw new Error('--quick is its own plan (tiny subsets, 1 epoch): it takes no --scale');
    },
    run: async (v) => (await import('./report.js')).reportCommand(v),
  },
};

/** Options every command takes. */
export const GLOBAL_OPTIONS: readonly OptionName[] = ['verbose', 'help'];
