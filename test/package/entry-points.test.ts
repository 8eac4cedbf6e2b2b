/**
 * mlock/, web/ and bench/ use the engine only through the package's entry points (what an installed app
 * gets), never its internal files; and every entry point in package.json is compiled by tsconfig.build.json.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const build = readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8');

/** Source files of each entry point, from the compiled paths in package.json "exports". */
const entrySources = new Set(
  (JSON.stringify(pkg.exports).match(/\.\/dist\/lib\/[^"]+\.js/g) ?? []).map((p: string) =>
    p.replace('./dist/lib/', '').replace(/\.js$/, '.ts'),
  ),
);

describe('entry points', () => {
  it('package.json exports only compiled entry files', () => {
    expect([...entrySources].sort()).toEqual(
      expect.arrayContaining([
        'engine/index.ts',
        'engine/node.ts',
        'engine/nn/index.ts',
        'engine/optim/index.ts',
        'engine/train/index.ts',
        'engine/data/index.ts',
        'engine/io/index.ts',
        'mlock/index.ts',
      ]),
    );
    for (const source of entrySources) expect(build, `${source} in tsconfig.build.json`).toContain(`"${source}"`);
  });

  for (const dir of ['mlock', 'web', 'bench']) {
    it(`${dir}/ imports the engine only through entry points`, () => {
      const offending: string[] = [];
      for (const file of readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(join(ROOT, dir, file), 'utf8');
        for (const m of text.matchAll(/from '\.\.\/((?:engine|kernels)\/[^']+)\.js'/g)) {
          if (!entrySources.has(`${m[1]}.ts`)) offending.push(`${dir}/${file} imports ${m[1]}`);
        }
      }
      expect(offending).toEqual([]);
    });
  }
});
