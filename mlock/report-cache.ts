/**
 * The report's cache of finished rows. Each row's folder (runs/report-<scale>/<dataset>/<kind>/seed-<n>/)
 * holds the run (model, checkpoints, report.json) and, once everything about the row is done, `row.json`:
 * its settings, the code version and the adapter it ran on, and its results. A row is reused only when all
 * three match; otherwise it is run again from scratch, so two code versions or settings never mix in a
 * figure. `started.json` records the same identity for a row in progress, so an interrupted report resumes
 * that row's training from its last checkpoint only when nothing about it changed.
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

export interface CodeVersion {
  /** SHA-256 over the sorted (path, content hash) list, first 16 hex digits. */
  hash: string;
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
  const h = createHash('sha256').update(`webgpu ${webgpu}\n`);
  for (const f of counted)
    h.update(
      `${f}\0${createHash('sha256')
        .update(readFileSync(join(root, f)))
        .digest('hex')}\n`,
    );
  return { hash: h.digest('hex').slice(0, 16), files: counted.length, webgpu };
}

/** JSON with object keys sorted at every level, so equal settings always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** What a row is: its settings, the code that computes it and the adapter it runs on. */
export interface RowIdentity {
  settings: Record<string, unknown>;
  code: string;
  adapter: string;
}

export function rowKey({ settings, code, adapter }: RowIdentity): string {
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
 * The finished row in `dir` when it was computed with exactly these settings and this code: with
 * `adapter` null (rendering without a device), on any adapter; else on this one.
 */
export async function readFinishedRow<R>(
  dir: string,
  settings: Record<string, unknown>,
  code: string,
  adapter: string | null,
): Promise<RowRecord<R> | null> {
  const record = await readJson<RowRecord<R>>(join(dir, FINISHED));
  if (!record || record.result === undefined) return null;
  const expected = rowKey({ settings, code, adapter: adapter ?? record.adapter });
  return record.key === expected && rowKey(record) === expected ? record : null;
}

/**
 * Make `dir` ready for the row `id`: returns true when it holds a run in progress of this very row (resume
 * it), else empties the folder and records the row as started there.
 */
export async function claimRowFolder(dir: string, id: RowIdentity): Promise<boolean> {
  const key = rowKey(id);
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

export async function writeFinishedRow<R>(dir: string, id: RowIdentity, result: R): Promise<RowRecord<R>> {
  const record: RowRecord<R> = { key: rowKey(id), ...id, finished: new Date().toISOString(), result };
  await writeFileAtomic(join(dir, FINISHED), JSON.stringify(record, null, 2) + '\n');
  return record;
}
