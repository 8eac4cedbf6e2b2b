/**
 * Runs a command with Dawn's adapter-probe warnings removed from its stderr. Dawn's native binding writes them
 * straight to file descriptor 2 while it looks for drivers ("Warning: Couldn't load Vulkan ...", with a source
 * path of the machine that built it; "... artificially reduced ..." for the OpenGL ES adapter). No Dawn toggle
 * or `create()` flag turns them off, and a Node process cannot redirect its own descriptor 2, so the filter
 * sits in a parent process. Everything else on stderr passes through unchanged, line by line.
 *
 * Used by the CLI (unless --verbose) and by `npm test`: `tsx scripts/without-dawn-warnings.ts vitest run`.
 * MLOCK_VERBOSE=1 shows the warnings.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Dawn's log lines: "Warning: ..." (its severity prefix, capitalised), context lines " - While ...", then
 * "    at fn (file.cpp:N)" and a blank line.
 */
const DAWN_WARNING = /^Warning: /;
const DAWN_CONTEXT = /^ - /;
const DAWN_SOURCE = /^\s+at .*\(.*\.(cpp|cc|h|mm):\d+\)\s*$/;

/** A stateful line filter: feed it chunks, get back what is not Dawn's. */
export function dawnWarningFilter(): { push(chunk: string): string; end(): string } {
  let pending = '';
  let state: 'none' | 'warning' | 'source' = 'none';
  const keep = (line: string): boolean => {
    const previous = state;
    state = 'none';
    if (DAWN_WARNING.test(line)) state = 'warning';
    else if (previous !== 'none' && DAWN_SOURCE.test(line)) state = 'source';
    else if (previous === 'warning' && DAWN_CONTEXT.test(line)) state = 'warning';
    else if (previous === 'source' && line.trim() === '') state = 'none';
    else return true;
    return false;
  };
  return {
    push(chunk) {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      return lines
        .filter(keep)
        .map((l) => `${l}\n`)
        .join('');
    },
    end() {
      const rest = pending && keep(pending) ? pending : '';
      pending = '';
      return rest;
    },
  };
}

/** Run `command args` with the filter on its stderr; resolves to its exit code (128 + signal number when killed). */
export function runWithoutDawnWarnings(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const child = spawn(command, args, { stdio: ['inherit', 'inherit', 'pipe'], env });
  const filter = dawnWarningFilter();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => process.stderr.write(filter.push(chunk)));
  // A terminal's Ctrl+C reaches the child too (same process group); a signal sent to this process alone is passed on.
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      process.stderr.write(filter.end());
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    console.error('usage: tsx scripts/without-dawn-warnings.ts COMMAND [ARGS...]');
    process.exit(2);
  }
  if (process.env.MLOCK_VERBOSE) {
    process.exitCode = await new Promise<number>((resolve) =>
      spawn(command, args, { stdio: 'inherit' }).on('close', (code) => resolve(code ?? 1)),
    );
  } else {
    process.exitCode = await runWithoutDawnWarnings(command, args);
  }
}
