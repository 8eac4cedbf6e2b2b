/**
 * Where a result came from, for every report a command writes: the code (commit, and whether the checkout had
 * uncommitted changes), when, on what (Node, package version), and the command line with the key hidden.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../engine/data/node/index.js';

export interface Provenance {
  commit: string | null;
  uncommittedChanges: boolean | null;
  date: string;
  node: string;
  package: string;
  command: string;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: projectRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null; // not a git checkout (an installed copy, a tarball): say so with null rather than guess
  }
}

/** The command line as typed, with the value of --key replaced: reports are shared, keys are not. */
export function redactedCommand(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--key') {
      out.push(a, '<key>');
      i++;
    } else out.push(a.startsWith('--key=') ? '--key=<key>' : a);
  }
  return out.map((a) => (/^[\w@%+=:,./<>-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

export function provenance(argv: readonly string[] = process.argv.slice(2)): Provenance {
  const root = projectRoot();
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    commit: git(['rev-parse', 'HEAD']),
    uncommittedChanges: status === null ? null : status.length > 0,
    date: new Date().toISOString(),
    node: process.version,
    package: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    command: `mlock/cli.ts ${redactedCommand(argv)}`,
  };
}
