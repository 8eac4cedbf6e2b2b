/** Command-line options shared by the benchmarks: `--quick` and `--json FILE`. */
export interface BenchOptions {
  /** Fewer repeats and smaller problems, for a fast check on the software adapter. */
  quick: boolean;
  /** Where to write the results as JSON (atomically), if anywhere. */
  json: string | null;
}

export function parseBenchOptions(argv: readonly string[], command: string): BenchOptions {
  const usage = `usage: ${command} [--quick] [--json FILE]`;
  const options: BenchOptions = { quick: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--json') {
      const file = argv[++i];
      if (!file || file.startsWith('--')) throw new Error(`--json needs a file name\n${usage}`);
      options.json = file;
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}'\n${usage}`);
  }
  return options;
}
