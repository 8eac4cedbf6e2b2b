/**
 * The report's cache of finished rows. Each row's folder (runs/report-<scale>/<dataset>/<kind>/seed-<n>/)
 * holds the run (model, checkpoints, report.json) and, once everything about the row is done, `row.json`:
 * its settings, the code version and the adapter it ran on, and its results. A row is reused only when all
 * three match; otherwise it is run again, so two code versions or settings never mix in a figure. The code
 * version has two stages: the training code, and the audit's (the files that only measure a trained model).
 * A locked row whose training code is unchanged but whose audit changed keeps its trained model and runs its
 * audit and white-box attacks again on it, as the run would have (report.ts `auditRowAgain`): hours of
 * training are not redone because the audit learned a new attack. `started.json` records the training
 * identity of a row in progress, so an interrupted report resumes that row's training from its last
 * checkpoint only when nothing about its training changed.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../engine/io/node/index.js';
import { clearFolder } from './run-folder.js';

/**
 * The files whose content can change a row's figures: the engine, the kernels and the lock, and the Dawn
 * build that runs them. A content hash rather than the git commit: it covers uncommitted edits exactly (a
 * commit plus a "dirty" flag cannot tell two different uncommitted states apart, which would mix them), it
 * ignores commits that touch only other parts of the project (docs, web, tests), and it works outside git.
 * Left out: the report's own files and the CLI's, which only decide what is run (recorded in each row's
 * settings) and how it is drawn, never what a run computes.
 */
const CODE_DIRS = ['engine', 'kernels', 'mlock'];
// Source only: the report writes its own outputs into mlock/ (REPORT.md, report.json, figures, speeds).
const SOURCE = /\.(ts|wgsl)$/;
const PRESENTATION_ONLY = /^mlock\/(report[\w-]*|plot|cli|cli-schema|commands|progress)\.ts$/;
/**
 * The audit stage: code that only measures a trained model, never imported by what trains it (run.ts calls
 * the audit once training is over; test/mlock/report.test.ts checks the import graph), and the package's
 * barrel, which no run imports.
 */
export const AUDIT_STAGE = /^mlock\/(audit|guess-estimate|attacks|query-attack|index)\.ts$/;

export interface CodeVersion {
  /** SHA-256 over the sorted (path, content hash) list, first 16 hex digits: every counted file. */
  hash: string;
  /** The same over the training code (every counted file but the audit stage's) and over the audit stage's. */
  training: string;
  audit: string;
  files: number;
  webgpu: string;
}

export function codeVersion(root: string): CodeVersion {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(root, path).split('\\').join('/'));
    }
  };
  for (const d of CODE_DIRS) walk(join(root, d));
  const counted = files.filter((f) => SOURCE.test(f) && !PRESENTATION_ONLY.test(f)).sort();
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { version?: string }> };
  const webgpu = lock.packages?.['node_modules/webgpu']?.version ?? 'unknown';
  const lines = counted.map(
    (f) =>
      `${f}\0${createHash('sha256')
        .update(readFileSync(join(root, f)))
        .digest('hex')}\n`,
  );
  const digest = (keep: (file: string) => boolean) => {
    const h = createHash('sha256').update(`webgpu ${webgpu}\n`);
    counted.forEach((f, i) => keep(f) && h.update(lines[i]!));
    return h.digest('hex').slice(0, 16);
  };
  return {
    hash: digest(() => true),
    training: digest((f) => !AUDIT_STAGE.test(f)),
    audit: digest((f) => AUDIT_STAGE.test(f)),
    files: counted.length,
    webgpu,
  };
}

/** JSON with object keys sorted at every level, so equal settings always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The code a row was computed with: its training's, and its audit's where the row has one (locked rows). */
export interface RowCode {
  training: string;
  audit: string | null;
}

export const rowCode = (code: CodeVersion, audited: boolean): RowCode => ({ training: code.training, audit: audited ? code.audit : null });

/** What a row is: its settings, the code that computes it and the adapter it runs on. */
export interface RowIdentity {
  settings: Record<string, unknown>;
  code: RowCode;
  adapter: string;
}

/** A row's key: a hash of its identity (also of the older identities, whose `code` was one string). */
export function rowKey({
  settings,
  code,
  adapter,
}: {
  settings: Record<string, unknown>;
  code: RowCode | string;
  adapter: string;
}): string {
  return createHash('sha256').update(canonicalJson({ settings, code, adapter })).digest('hex').slice(0, 16);
}

export interface RowRecord<R> extends RowIdentity {
  key: string;
  finished: string;
  result: R;
}

const FINISHED = 'row.json';
const STARTED = 'started.json';
const ELAPSED = 'elapsed.json';

async function readJson<T>(path: string): Promise<T | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null; // a torn or hand-edited file is no finished row: the row runs again
  }
}

/**
 * How a finished row stands against the code now: all of it current; current but stored before the code version
 * had stages (to be written again in today's form); or trained with this code and audited with older code.
 */
export type RowState = 'current' | 'older-form' | 'audit-changed';

/**
 * The finished row in `dir` when it was computed with exactly these settings, on `adapter` (null, when
 * rendering without a device: on any adapter), with this training code, and its state: 'current' when its
 * audit code is this one too. A record whose identity does not hash to its key (edited by hand, torn) is none.
 * A record from before the code version had stages (`code` one string) counts as current when that string is
 * today's whole-code hash: then both stages are today's ('older-form').
 */
export async function readFinishedRow<R>(
  dir: string,
  settings: Record<string, unknown>,
  code: CodeVersion,
  audited: boolean,
  adapter: string | null,
): Promise<{ record: RowRecord<R>; state: RowState } | null> {
  const stored = await readJson<Omit<RowRecord<R>, 'code'> & { code: RowCode | string }>(join(dir, FINISHED));
  if (!stored || stored.result === undefined || stored.key !== rowKey(stored)) return null;
  if (canonicalJson(stored.settings) !== canonicalJson(settings) || (adapter !== null && stored.adapter !== adapter)) return null;
  const now = rowCode(code, audited);
  if (typeof stored.code === 'string') {
    if (stored.code !== code.hash) return null;
    const id = { settings: stored.settings, code: now, adapter: stored.adapter };
    return { record: { ...stored, ...id, key: rowKey(id) }, state: 'older-form' };
  }
  if (stored.code.training !== now.training || (stored.code.audit === null) !== (now.audit === null)) return null;
  return { record: stored as RowRecord<R>, state: stored.code.audit === now.audit ? 'current' : 'audit-changed' };
}

/**
 * Make `dir` ready for the row `id`: returns true when it holds a run in progress of this very row (resume
 * it), else empties the folder and records the row as started there.
 */
export async function claimRowFolder(dir: string, id: RowIdentity): Promise<boolean> {
  // Resuming is about training: a row whose audit code changed mid-training still resumes it.
  const key = rowKey({ ...id, code: { training: id.code.training, audit: null } });
  const started = await readJson<{ key: string }>(join(dir, STARTED));
  if (started?.key === key) return true;
  await mkdir(dir, { recursive: true });
  await clearFolder(dir);
  await writeFileAtomic(join(dir, STARTED), JSON.stringify({ key, ...id }, null, 2) + '\n');
  return false;
}

/** Seconds the row's earlier sessions spent on it (0 for a fresh row): where an interrupted row's time resumes. */
export async function elapsedRowSeconds(dir: string): Promise<number> {
  const seconds = (await readJson<{ seconds?: unknown }>(join(dir, ELAPSED)))?.seconds;
  return typeof seconds === 'number' && seconds >= 0 ? seconds : 0;
}

/**
 * Record the row's seconds so far, every session's. Called after every line the run logs (each epoch), so a
 * report stopped by a signal, which writes nothing on its way out, loses at most one epoch's time.
 */
export function recordRowSeconds(dir: string, seconds: number): void {
  writeFileSync(join(dir, ELAPSED), JSON.stringify({ seconds }) + '\n');
}

/** Write the row's record; `finished` defaults to now (a record carried over from older code keeps its own). */
export async function writeFinishedRow<R>(
  dir: string,
  id: RowIdentity,
  result: R,
  finished = new Date().toISOString(),
): Promise<RowRecord<R>> {
  const record: RowRecord<R> = { key: rowKey(id), ...id, finished, result };
  await writeFileAtomic(join(dir, FINISHED), JSON.stringify(record, null, 2) + '\n');
  return record;
}
