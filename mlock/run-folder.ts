/**
 * The run folder's own record, `run.json`: the settings the run was started with (in command-line terms, the
 * key only as a salted fingerprint) and one entry per session (start, seconds, how it ended). It lets the CLI
 * refuse to mix two runs in one folder, refuse a --resume whose settings differ from the run's, and sum the
 * training time over resumes. Checks read only; nothing is written until the run has its data and starts.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const RUN_RECORD = 'run.json';

/** Settings that define a run, keyed by option name; resuming with any of them changed is refused. */
export type RunSettings = Record<string, string | number | boolean | null>;

export interface Session {
  started: string;
  seconds: number;
  ended: 'finished' | 'interrupted' | 'failed' | 'running';
}

export interface RunRecord {
  settings: RunSettings;
  sessions: Session[];
}

/** A fingerprint that tells keys apart without storing them (salted, so it is no plain hash of the key). */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update('mlock-webgpu run key\0').update(key).digest('hex').slice(0, 16);
}

async function entries(dir: string): Promise<string[] | null> {
  const s = await stat(dir).catch(() => null);
  if (!s) return null;
  if (!s.isDirectory()) throw new Error(`--out ${dir} is a file, not a folder`);
  return readdir(dir);
}

export interface FolderPlan {
  /** Whatever is in the folder now is to be removed before the run writes (--force). */
  replace: boolean;
  /** The record of the run being resumed. */
  resumed: RunRecord | null;
}

/** Check --out against --resume / --force and the recorded settings. Reads only. */
export async function checkRunFolder(out: string, settings: RunSettings, mode: { resume: boolean; force: boolean }): Promise<FolderPlan> {
  const files = await entries(out);
  if (mode.resume) {
    if (files === null)
      throw new Error(`--resume: ${out} does not exist, so there is nothing to resume (check --out, or drop --resume to start a new run)`);
    const path = join(out, RUN_RECORD);
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) throw new Error(`--resume: ${out} holds no ${RUN_RECORD}, so it is not a run folder this CLI can continue`);
    let record: RunRecord;
    try {
      record = JSON.parse(text) as RunRecord;
    } catch (e) {
      throw new Error(`--resume: ${path} is not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const changed = Object.keys({ ...record.settings, ...settings }).filter(
      (k) => JSON.stringify(record.settings[k] ?? null) !== JSON.stringify(settings[k] ?? null),
    );
    if (changed.length) {
      const show = (k: string, v: RunSettings[string] | undefined) =>
        k === 'key' ? 'a different key' : v === null || v === undefined ? '(not set)' : String(v);
      const list = changed.map((k) => `--${k} ${show(k, record.settings[k])} (now ${show(k, settings[k])})`).join(', ');
      throw new Error(`--resume: ${out} was started with other settings: ${list}. Resume with the same options, or start a new --out`);
    }
    return { replace: false, resumed: record };
  }
  if (files !== null && files.length > 0 && !mode.force) {
    const shown = files.slice(0, 4).join(', ') + (files.length > 4 ? ', ...' : '');
    throw new Error(`--out ${out} is not empty (${shown}); pass --resume to continue that run or --force to replace it`);
  }
  return { replace: files !== null && files.length > 0, resumed: null };
}

/** Remove what --force replaces; called once the run is about to write. */
export async function clearFolder(out: string): Promise<void> {
  for (const f of await readdir(out)) await rm(join(out, f), { recursive: true, force: true });
}

/**
 * Write the record with this session's state. Synchronous on purpose: it also runs from the SIGINT handler,
 * where the process exits right after.
 */
export function writeRunRecord(out: string, record: RunRecord): void {
  writeFileSync(join(out, RUN_RECORD), JSON.stringify(record, null, 2) + '\n');
}

/** Seconds of every earlier session of the run. */
export function priorSeconds(record: RunRecord | null): number {
  return (record?.sessions ?? []).reduce((sum, s) => sum + s.seconds, 0);
}
