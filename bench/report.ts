/** Benchmark output: an aligned text table on stdout and, on request, the same rows as JSON and as a Markdown table. */
import { cpus, loadavg } from 'node:os';
import { writeFileAtomic } from '../engine/io/node/index.js';

export interface Column<Row> {
  title: string;
  value: (row: Row) => string;
  /** Right-align (numbers). */
  right?: boolean;
}

export function printTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): void {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(columns.map((c) => c.title)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

/** A number for the table: fixed decimals, or '-' when there is none. */
export function num(x: number | null | undefined, decimals = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(decimals);
}

/** A fraction as a whole percentage ('43%'), or '-' when there is none. */
export function percent(fraction: number | null | undefined): string {
  return fraction === null || fraction === undefined || !Number.isFinite(fraction) ? '-' : `${(100 * fraction).toFixed(0)}%`;
}

/** A ratio as '0.25x', or '-' when there is none. */
export function ratio(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(x < 0.1 ? 3 : 2)}x`;
}

/** The same table in GitHub Markdown ('|' in cells escaped; numbers right-aligned). */
export function markdownTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cell = (v: string) => v.replace(/\|/g, '\\|');
  const line = (values: readonly string[]) => `| ${values.map(cell).join(' | ')} |`;
  return [
    line(columns.map((c) => c.title)),
    `|${columns.map((c) => (c.right ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => line(columns.map((c) => c.value(r)))),
  ].join('\n');
}

/** A Markdown file: a heading line, notes as paragraphs, then the table. */
export async function writeMarkdownReport<Row>(
  path: string,
  title: string,
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  notes: readonly string[] = [],
): Promise<void> {
  await writeFileAtomic(path, [`## ${title}`, '', ...notes.flatMap((n) => [n, '']), markdownTable(columns, rows), ''].join('\n'));
  console.log(`wrote ${path}`);
}

export async function writeJsonReport(path: string, report: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path}`);
}

/** The machine's CPU count and load: a software adapter's speed depends on both, so results carry them. */
export function hostInfo(): { cpus: number; loadAverage: number[] } {
  return { cpus: cpus().length, loadAverage: loadavg() };
}
