/**
 * PyTorch as a peer: bench/torch_peer.py in a child process per thread count, driven by JSON lines (one request
 * on its stdin, one answer on its stdout). On the CPU that is what a user without a GPU would pick instead of
 * this engine: Debian's python3-torch (1.13) with libopenblas0-pthread, installed here with apt-get when missing.
 * It runs at its best: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which may force an older OpenBLAS kernel) are
 * removed from its environment alone, and each row keeps the faster of the thread counts tried.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type TorchDevice = 'cpu' | 'cuda';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_peer.py');
/** Debian's PyTorch, and the threaded OpenBLAS without which its generic libblas is the slow reference BLAS. */
export const DEBIAN_PACKAGES = ['python3-torch', 'libopenblas0-pthread'] as const;
/** Environment variables that pin OpenBLAS to an older kernel on some machines: never passed to the peer. */
export const PINNING_VARIABLES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

/** The peer's environment: ours minus the OpenBLAS pinning, with every threading library set to `threads`. */
export function peerEnvironment(threads: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of PINNING_VARIABLES) delete env[name];
  for (const name of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) env[name] = String(threads);
  return env;
}

/** The best of the thread counts tried for one row (higher is better), or null when none gave a number. */
export function bestOf<T extends { threads: number; value: number | null }>(results: readonly T[]): T | null {
  return results.reduce<T | null>(
    (best, r) => (r.value !== null && Number.isFinite(r.value) && (best === null || r.value > best.value!) ? r : best),
    null,
  );
}

export interface TorchHello {
  torch: string;
  device: TorchDevice;
  threads: number;
  /** The BLAS libraries the process mapped. */
  blas: string;
  deviceName?: string;
}

/** One bench/torch_peer.py process: requests are answered in order. */
export class TorchProcess {
  private readonly waiting: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';
  private exited: string | null = null;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly threads: number,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (!w) return;
      try {
        w.resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        w.reject(new Error(`torch_peer.py printed something that is not JSON: ${line.slice(0, 200)}`));
      }
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    child.on('exit', (code, signal) => {
      this.exited = `torch_peer.py exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim().split('\n').at(-1)}` : ''}`;
      for (const w of this.waiting.splice(0)) w.reject(new Error(this.exited));
    });
  }

  static start(python: string, device: TorchDevice, threads: number): TorchProcess {
    const child = spawn(python, [SCRIPT, '--device', device, '--threads', String(threads)], {
      env: peerEnvironment(threads),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new TorchProcess(child, threads);
  }

  /** Send one request; resolves with its answer, rejects with the peer's own error message. */
  async request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    const a = await answer;
    if (typeof a.error === 'string') throw new Error(a.error);
    return a;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** Whether a Debian package is installed (false where dpkg is missing or says otherwise). */
function debianInstalled(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;

/** The torch a Python has, or null: version, CUDA availability, and whether it is Debian's (under /usr/lib/python3). */
function probeTorch(python: string): { version: string; cuda: boolean; debian: boolean } | null {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available(), torch.__file__)'], {
    encoding: 'utf8',
    env: peerEnvironment(1),
    timeout: 120_000,
  });
  if (r.status !== 0) return null;
  const [version, cuda, file] = r.stdout.trim().split(/\s+/);
  return { version: version!, cuda: cuda === 'True', debian: file!.startsWith('/usr/lib/python3/') };
}

/** Install Debian packages with apt-get (updating the lists once if the first try fails); a reason when it cannot. */
function aptInstall(packages: readonly string[]): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return `not root, so apt-get cannot install ${packages.join(' ')}`;
  if (!onPath('apt-get')) return `no apt-get on this machine to install ${packages.join(' ')}`;
  console.log(`PyTorch peer: installing Debian's ${packages.join(' ')} with apt-get (PyTorch 1.13 on the CPU, with the threaded OpenBLAS)`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (install()) return null;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  return install() ? null : `apt-get could not install ${packages.join(' ')} (offline, or no such package in this distribution)`;
}

/**
 * A Python whose torch can run on `device`, installing Debian's packages for the CPU when needed, or why there
 * is none. Tries $TORCH_PYTHON, then Debian's /usr/bin/python3, then the python3 on PATH.
 */
export function findTorchPython(device: TorchDevice): { python: string; version: string } | { skipped: string } {
  const candidates = [...new Set([process.env.TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p)))].filter(
    (p) => (p.includes('/') ? existsSync(p) : onPath(p)),
  );
  if (candidates.length === 0) return { skipped: 'no python3 on this machine' };
  const find = () => {
    for (const python of candidates) {
      const t = probeTorch(python);
      if (t && (device === 'cpu' || t.cuda)) return { python, ...t };
    }
    return null;
  };
  let found = find();
  if (device === 'cuda') return found ?? { skipped: `no Python here has a torch with CUDA available (tried ${candidates.join(', ')})` };
  const missing = DEBIAN_PACKAGES.filter((pkg) => (pkg === 'python3-torch' ? !found : found?.debian && !debianInstalled(pkg)));
  if (missing.length > 0) {
    const problem = aptInstall(missing);
    if (problem && !found) return { skipped: `PyTorch is not installed and ${problem}` };
    if (problem) console.log(`PyTorch peer: ${problem}; its matmuls use the slow reference BLAS`);
    found = find();
  }
  return found ?? { skipped: `PyTorch still does not import after installing (tried ${candidates.join(', ')})` };
}
