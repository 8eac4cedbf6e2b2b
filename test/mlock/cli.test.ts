/**
 * The CLI as a user meets it: each case spawns `mlock/cli.ts` and checks the exit status and what it printed.
 * Mistakes on the command line are caught before GPU start-up, so those cases cost a Node start each; the
 * cases that need a trained model share two tiny runs trained once (MNIST subsets, one epoch).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from '../../engine/io/safetensors.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  options: { env?: Record<string, string>; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...options.env };
    delete env.MLOCK_CLI_FILTERED;
    const child = spawn(process.execPath, ['--import', 'tsx', 'mlock/cli.ts', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One clear line on stderr, nothing on stdout, a non-zero status. */
function expectRefused(r: Result, pattern: RegExp, code = 2): void {
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.code).toBe(code);
}

const work = mkdtempSync(join(tmpdir(), 'mlock-cli-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A model file with the metadata a run writes, and tensors that need not match any model (for pre-GPU checks). */
function fakeModel(name: string, metadata: Record<string, string>): string {
  const path = join(work, `${name}.safetensors`);
  const base = {
    format: 'mlock-webgpu/1',
    model: JSON.stringify({ name: 'mlp', width: 32, inputShape: [1, 28, 28], numClasses: 10 }),
    normalization: JSON.stringify({ mean: [0.13], std: [0.31] }),
    dataset: 'mnist',
  };
  writeFileSync(path, encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { ...base, ...metadata }));
  return path;
}

describe.concurrent('refused before anything starts', () => {
  const cases: [string, string[], RegExp][] = [
    ['a negative epoch count', ['train', '--epochs', '-1'], /--epochs: must be at least 1, got -1/],
    ['a fractional epoch count', ['train', '--epochs', '1.5'], /--epochs: expected a whole number of at least 1, got '1.5'/],
    ['an unknown optimizer', ['train', '--optimizer', 'foo'], /--optimizer: expected one of sgd, adam, adamw, got 'foo'/],
    ['an unknown placement', ['train', '--placement', 'foo'], /--placement: expected one of keyed, fixed, random, got 'foo'/],
    ['an empty training subset', ['train', '--train-subset', '0'], /--train-subset: must be at least 1, got 0/],
    ['a stray word', ['train', 'cifar10'], /unexpected word 'cifar10'.*did you mean --dataset cifar10/],
    ['an unknown option', ['eval', '--epochs', '3', '--from', 'x'], /eval: unknown option --epochs/],
    ['an unknown strategy', ['train', '--strategy', 'lock-all'], /--strategy: expected none, .*got 'lock-all'/],
    ['an unknown command', ['trian'], /unknown command 'trian'/],
    ['a missing value', ['train', '--epochs'], /--epochs needs a value/],
    ['a missing --from', ['predict'], /predict: needs --from PATH/],
    ['--key with --token', ['train', '--key', 'k', '--token', 'square'], /--key and --token both choose the token/],
    ['--resume with --force', ['train', '--out', 'x', '--resume', '--force'], /--resume .* --force .*pass one/],
    ['--resume without --out', ['train', '--resume'], /--resume needs --out/],
    ['--warm-start without a baseline', ['train', '--warm-start', '--no-baseline'], /--warm-start locks the unlocked baseline: it needs/],
    ['--warm-start of a plain run', ['train', '--warm-start', '--strategy', 'none'], /--warm-start locks the unlocked baseline: it needs/],
    ['--lock-epochs of a plain run', ['train', '--lock-epochs', '5', '--strategy', 'none'], /--lock-epochs sets the locked training/],
    ['report --quick with --scale', ['report', '--quick', '--scale', 'paper'], /--quick is its own plan .* no --scale/],
    ['report with an unknown scale', ['report', '--scale', 'huge'], /expected one of cpu, paper/],
  ];
  for (const [what, args, pattern] of cases) {
    it(what, async () => expectRefused(await cli(args), pattern));
  }

  it('MLOCK_BACKEND=metal', async () => {
    expectRefused(
      await cli(['train'], { env: { MLOCK_BACKEND: 'metal' } }),
      /MLOCK_BACKEND=metal is not supported; use one of vulkan, opengles, default/,
    );
  });

  it('per-command --help lists that command’s options', async () => {
    const train = await cli(['train', '--help']);
    const predict = await cli(['predict', '--help']);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/--epochs N/);
    expect(train.stdout).not.toMatch(/--image/);
    expect(predict.stdout).toMatch(/--image FILE/);
    expect(predict.stdout).not.toMatch(/--epochs/);
    expect((await cli(['--help'])).stdout).toMatch(/Commands\n {2}demo/);
  });

  it('a non-empty --out, without --resume or --force, and leaves it as it was', async () => {
    const out = join(work, 'occupied');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expectRefused(await cli(['train', '--out', out]), /--out .*occupied is not empty \(notes.txt\); pass --resume .* or --force/, 1);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('--resume on a mistyped --out, creating nothing', async () => {
    const out = join(work, 'no-such-run');
    expectRefused(
      await cli(['train', '--out', out, '--resume']),
      /--resume: .*no-such-run does not exist, so there is nothing to resume/,
      1,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--resume with settings that differ from the run’s', async () => {
    const out = join(work, 'recorded');
    mkdirSync(out);
    const settings = { dataset: 'mnist', strategy: 'uniform', epochs: 3 };
    writeFileSync(join(out, 'run.json'), JSON.stringify({ settings, sessions: [] }));
    expectRefused(
      await cli(['train', '--out', out, '--resume', '--strategy', 'random-label', '--epochs', '3']),
      /started with other settings: --strategy uniform \(now random-label\)/,
      1,
    );
  });

  it('broken metadata JSON, naming the file and the field', async () => {
    const path = fakeModel('broken', { model: '{"name": "mlp",' });
    expectRefused(await cli(['predict', '--from', path]), new RegExp(`${path}: its 'model' metadata is not valid JSON`), 1);
  });

  it('a missing --image, naming it', async () => {
    const path = fakeModel('plain', {});
    expectRefused(await cli(['predict', '--from', path, '--image', join(work, 'nope.png')]), /--image: .*nope.png does not exist/, 1);
  });

  it('a model that is not there', async () => {
    expectRefused(await cli(['eval', '--from', join(work, 'missing-run'), '--key', 'k']), /--from: .*missing-run does not exist/, 1);
  });

  it('warns when --dataset differs from the one recorded in the model', async () => {
    const path = fakeModel('fashion', { dataset: 'fashion-mnist' });
    const r = await cli(['eval', '--from', path, '--dataset', 'mnist']);
    expect(r.stderr).toMatch(/warning: .* was trained on fashion-mnist; eval uses --dataset mnist as asked/);
    expect(r.code).toBe(1); // and then: it is a plain model, which eval does not measure
  });
});

describe('with trained models', () => {
  const plain = join(work, 'plain');
  const pattern = join(work, 'pattern');
  const small = ['--epochs', '1', '--train-subset', '400', '--test-subset', '200', '--no-baseline'];

  beforeAll(async () => {
    const runs = [
      await cli(['train', '--strategy', 'none', ...small, '--out', plain]),
      await cli([
        'train',
        '--strategy',
        'uniform',
        '--token',
        'square',
        '--forged-keys',
        '0',
        '--per-distance',
        '5',
        '--samples',
        '50',
        ...small,
        '--out',
        pattern,
      ]),
    ];
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
  }, 240_000);

  it('names the adapter once, on stderr, and shows no Dawn warnings', async () => {
    const r = await cli(['predict', '--from', plain, '--count', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^adapter: /)]);
    expect(r.stdout).not.toMatch(/adapter/);
  });

  it('predict works on a plain model, on the dataset recorded in it', async () => {
    const r = await cli(['predict', '--from', plain, '--count', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/plain model/);
    expect(r.stdout).toMatch(/mnist\/test\[2\]: true \d+ {2}-> \d/);
    // The same weights recorded as SVHN (absent here): predict looks for SVHN, not MNIST.
    const bytes = readFileSync(join(plain, 'model.safetensors'));
    const file = decodeSafetensors(new Uint8Array(bytes));
    const tensors: Record<string, TensorEntry> = Object.fromEntries(
      [...file.tensors].map(([k, d]) => [k, { dtype: d.dtype, shape: d.shape, data: d.data }]),
    );
    const svhn = join(work, 'svhn.safetensors');
    writeFileSync(svhn, encodeSafetensors(tensors, { ...file.metadata, dataset: 'svhn' }));
    expect((await cli(['predict', '--from', svhn])).stderr).toMatch(/svhn/i);
  });

  it('predict works on a pattern-locked model, with the recorded pattern', async () => {
    const r = await cli(['predict', '--from', pattern, '--count', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/locked with the 'square' pattern/);
    expect(r.stdout).toMatch(/without token -> \d {2}with token -> \d/);
  });

  it('a tensor of the wrong shape is named by its full key', async () => {
    const file = decodeSafetensors(new Uint8Array(readFileSync(join(plain, 'model.safetensors'))));
    const tensors: Record<string, TensorEntry> = Object.fromEntries(
      [...file.tensors].map(([k, d]) => [k, { dtype: d.dtype, shape: d.shape, data: d.data }]),
    );
    const key = Object.keys(tensors).find((k) => /^\d+\.weight$/.test(k) && !k.startsWith('0.'))!;
    tensors[key] = { dtype: 'F32', shape: [3, 3], data: new Float32Array(9) };
    const path = join(work, 'wrong-shape.safetensors');
    writeFileSync(path, encodeSafetensors(tensors, file.metadata));
    const r = await cli(['predict', '--from', path, '--count', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tensor '${key}' has shape [3, 3]`);
    expect(r.stderr).toContain(path);
  });

  it('report.json has settings and provenance; curves.svg has loss on its own axis', () => {
    const report = JSON.parse(readFileSync(join(pattern, 'report.json'), 'utf8'));
    expect(report.provenance).toMatchObject({ date: expect.any(String), adapter: expect.any(String), seeds: expect.any(Object) });
    expect(report.provenance).toHaveProperty('commit');
    expect(report.provenance.command).toContain('--token square');
    expect(report.config.token).toMatchObject({ kind: 'pattern', name: 'square', size: expect.stringMatching(/^\d+x\d+$/) });
    expect(report.config.forgedSamples).toBe(50);
    expect(report.seconds).toBeGreaterThan(0);
    const svg = readFileSync(join(pattern, 'curves.svg'), 'utf8');
    expect(svg).toContain('train loss (right axis)');
    expect(svg).not.toContain('loss / 3');
  });

  it('eval --markdown gives image counts', async () => {
    const md = join(work, 'eval.md');
    const r = await cli([
      'eval',
      '--from',
      pattern,
      '--forged-keys',
      '0',
      '--per-distance',
      '5',
      '--samples',
      '50',
      '--test-subset',
      '200',
      '--markdown',
      md,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/\| with the token \(authorized\) \| 200 \| \d/);
    expect(text).toMatch(/commit [0-9a-f]{40}|commit unknown/);
  });

  it('a run whose data cannot be loaded leaves no folder', async () => {
    const out = join(work, 'no-data');
    const r = await cli(['train', '--dataset', 'cifar100', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cifar-?100/i);
    expect(existsSync(out)).toBe(false);
  });

  it('a bad VK_ICD_FILENAMES falls back to llvmpipe and says why', async () => {
    const r = await cli(['predict', '--from', plain, '--count', '1'], { env: { VK_ICD_FILENAMES: '/nonexistent/icd.json' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /VK_ICD_FILENAMES names \/nonexistent\/icd.json, which does not exist; using Mesa llvmpipe \(OpenGL ES\) instead/,
    );
  });

  it('SIGINT prints the command that resumes the run', async () => {
    const out = join(work, 'interrupted');
    let sent = false;
    const r = await cli(
      ['train', '--strategy', 'none', '--epochs', '200', '--train-subset', '2000', '--test-subset', '100', '--out', out],
      {
        onStdout: (text, child) => {
          if (!sent && /epoch 1\/200/.test(text)) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      },
    );
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /interrupted: .* keeps every finished epoch. Resume with:\n {2}npx tsx mlock\/cli.ts train .*--out .*interrupted.* --resume/,
    );
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.sessions.at(-1).ended).toBe('interrupted');
  }, 120_000);
});
