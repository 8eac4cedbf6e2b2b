/** Command-line options shared by the benchmarks: `--quick`, `--json FILE`, `--markdown FILE`, and per-bench choices. */
export interface BenchOptions {
  /** Fewer repeats and smaller problems, for a fast check on the software adapter. */
  quick: boolean;
  /** Where to write the results as JSON (atomically), if anywhere. */
  json: string | null;
  /** Where to write the table as Markdown (atomically), if anywhere. */
  markdown: string | null;
  /** The value of each choice flag the bench declared (`--device cuda`), its first allowed value when not given. */
  choices: Record<string, string>;
}

/** A flag taking one of a few values, e.g. `{ flag: '--device', values: ['cpu', 'cuda'] }` (the first is the default). */
export interface ChoiceFlag {
  flag: string;
  values: readonly [string, ...string[]];
}

export function parseBenchOptions(argv: readonly string[], command: string, choiceFlags: readonly ChoiceFlag[] = []): BenchOptions {
  const usage = `usage: ${command} [--quick] [--json FILE] [--markdown FILE]${choiceFlags.map((c) => ` [${c.flag} ${c.values.join('|')}]`).join('')}`;
  const options: BenchOptions = {
    quick: false,
    json: null,
    markdown: null,
    choices: Object.fromEntries(choiceFlags.map((c) => [c.flag.replace(/^--/, ''), c.values[0]])),
  };
  const value = (i: number, flag: string, what: string) => {
    const v = argv[i];
    if (!v || v.startsWith('--')) throw new Error(`${flag} needs ${what}\n${usage}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const choice = choiceFlags.find((c) => c.flag === arg);
    if (arg === '--quick') options.quick = true;
    else if (arg === '--json') options.json = value(++i, arg, 'a file name');
    else if (arg === '--markdown') options.markdown = value(++i, arg, 'a file name');
    else if (choice) {
      const v = value(++i, arg, `one of ${choice.values.join(', ')}`);
      if (!choice.values.includes(v)) throw new Error(`${arg} ${v} is not supported; use one of ${choice.values.join(', ')}\n${usage}`);
      options.choices[arg.replace(/^--/, '')] = v;
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}'\n${usage}`);
  }
  return options;
}
