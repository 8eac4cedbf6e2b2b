/**
 * The project's command line: `npx tsx mlock/cli.ts <command> [options]` (`npm start` runs `demo`).
 * The command line is parsed and checked against the command's declared options (cli-schema.ts) before anything
 * else happens; a mistake gives one line on stderr and exit status 2, and nothing is started or written.
 * GPU work then runs in a child process whose stderr is filtered of Dawn's driver-probe warnings (--verbose
 * keeps them).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { environmentDeviceOptions } from '../engine/node.js';
import { runWithoutDawnWarnings } from '../scripts/without-dawn-warnings.js';
import { COMMANDS, DATASETS, GLOBAL_OPTIONS, OPTIONS, type CommandSpec, type OptionName, type Values } from './cli-schema.js';

const PROGRAM = 'npx tsx mlock/cli.ts';

/** A mistake on the command line: reported in one line, exit status 2. */
export class UsageError extends Error {}

function optionLine(name: OptionName): string {
  const spec = OPTIONS[name];
  const left = `--${name}${spec.kind.metavar ? ` ${spec.kind.metavar}` : ''}`;
  return `  ${left.padEnd(30)} ${spec.help}`;
}

function globalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'mlock — train neural networks that lock themselves without a secret token (M-LOCK, arXiv 2103.08472)',
    '',
    `Usage: ${PROGRAM} <command> [options]        (npm start runs 'demo')`,
    `       ${PROGRAM} <command> --help           the command's options`,
    '',
    'Commands',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Environment: MLOCK_BACKEND=vulkan|opengles, MLOCK_ADAPTER=auto|hardware|software, VK_ICD_FILENAMES (a Vulkan driver).',
    '',
  ].join('\n');
}

function commandHelp(name: string, c: CommandSpec): string {
  return [
    `${PROGRAM} ${name}: ${c.summary}`,
    '',
    `Usage: ${PROGRAM} ${[name, ...(c.required ?? []).map((r) => `--${r} ${OPTIONS[r].kind.metavar}`)].join(' ')} [options]`,
    '',
    'Options',
    ...[...c.options, ...GLOBAL_OPTIONS].map(optionLine),
    '',
  ].join('\n');
}

/** `--epochs -1` would read as a missing value followed by an option '-1': keep such numbers with their option. */
function joinNegativeNumbers(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (/^--[\w-]+$/.test(a) && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function rephrase(command: string, e: Error & { code?: string }): string {
  const m = /'([^']+)'/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${command}: unknown option ${m} (see '${PROGRAM} ${command} --help')`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const hint = (DATASETS as readonly string[]).includes(m ?? '') ? `; did you mean --dataset ${m}?` : '';
      return `${command}: unexpected word '${m}' (options are written --name value${hint})`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(e.message) || /ambiguous/.test(e.message)
        ? `${command}: ${m?.replace(/ <value>$/, '')} needs a value`
        : `${command}: ${e.message.split('\n')[0]}`;
    default:
      return `${command}: ${e.message.split('\n')[0]}`;
  }
}

export interface CommandLine {
  name: string;
  command: CommandSpec;
  values: Values;
  /** Whether help was asked for (the text to print is in `help`). */
  help?: string;
}

/** Parse and check a command line; throws UsageError with the one line to print. Starts nothing. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic && COMMANDS[topic]) return { name: topic, command: COMMANDS[topic], values: {}, help: commandHelp(topic, COMMANDS[topic]) };
    if (first !== undefined) return { name: 'help', command: COMMANDS.demo!, values: {}, help: globalHelp() };
  }
  const name = first === undefined || first.startsWith('-') ? 'demo' : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')}; see '${PROGRAM} --help')`);
  const declared = [...command.options, ...GLOBAL_OPTIONS];
  const config = Object.fromEntries(declared.map((o) => [o, { type: OPTIONS[o].boolean ? 'boolean' : 'string' } as const]));
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({ args: joinNegativeNumbers([...args]), options: config, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(rephrase(name, e as Error));
  }
  if (parsed.help) return { name, command, values: {}, help: commandHelp(name, command) };
  const values: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(parsed)) {
    if (text === undefined) continue;
    try {
      values[key] = typeof text === 'boolean' ? text : OPTIONS[key as OptionName].kind.parse(text);
    } catch (e) {
      throw new UsageError(`${name}: --${key}: ${(e as Error).message}`);
    }
  }
  const v = values as Values;
  const missing = (command.required ?? []).filter((r) => v[r] === undefined);
  if (missing.length) throw new UsageError(`${name}: needs ${missing.map((r) => `--${r} ${OPTIONS[r].kind.metavar}`).join(' and ')}`);
  try {
    command.check?.(v);
    environmentDeviceOptions();
  } catch (e) {
    throw new UsageError(`${name}: ${(e as Error).message}`);
  }
  return { name, command, values: v };
}

/** Set in the child that does the work, so it does not filter itself again. */
const FILTERED = 'MLOCK_CLI_FILTERED';

export async function main(argv: string[]): Promise<number> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  if (line.help) {
    console.log(line.help);
    return 0;
  }
  if (!line.values.verbose && !process.env[FILTERED] && !process.env.MLOCK_VERBOSE) {
    const self = fileURLToPath(import.meta.url);
    return runWithoutDawnWarnings(process.execPath, [...process.execArgv, self, ...argv], { ...process.env, [FILTERED]: '1' });
  }
  await line.command.run(line.values);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(`error: ${e.message}`);
      if (process.env.MLOCK_DEBUG) console.error(e.stack);
      process.exitCode = 1;
    },
  );
}
