// ESLint (flat config): the recommended JavaScript rules plus typescript-eslint's type-aware set, so that
// promises left floating, `any` leaking into typed code and unneeded assertions are caught, not only syntax slips.
// `npm run lint` runs it, then the layering check (scripts/check-layers.mjs).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'runs/', '.cache/', '.gpu/', 'node_modules/', 'web/assets/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Files outside tsconfig.json's "include" (this file, vitest.config.ts, the .mjs scripts) get a default project.
        projectService: { allowDefaultProject: ['*.js', '*.ts', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // `_name` marks a parameter a signature needs but the body does not; `{ a: _a, ...rest }` drops a field.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Error messages interpolate shapes (number arrays) and tensors (Tensor.toString describes one), besides
      // the numbers, booleans and nullish values the recommended options already allow.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: true,
          allowBoolean: true,
          allowNullish: true,
          allowNumber: true,
          allowRegExp: true,
          allowArray: true,
          allow: [{ from: 'file', name: 'Tensor', path: 'engine/tensor.ts' }],
        },
      ],
    },
  },
  {
    // Tests read back JSON files that the code under test wrote, and use vitest's asymmetric matchers
    // (expect.closeTo and the like), both typed `any`: a value of the wrong shape fails the assertion itself.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (build and packaging scripts) has no types to check against: the syntax rules only.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
