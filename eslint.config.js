// Lint: typescript-eslint's type-aware recommended rules, plus no floating promises.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Dependencies point one way: services use common, never each other; runtime code never
  // reaches into the launcher, the tests or the bench; the launcher's runtime never into tests.
  ...['order', 'stock', 'payment', 'common'].map((pkg) => ({
    files: [`packages/${pkg}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)(launcher|test|bench)/', message: 'runtime code of a package must not import the launcher, tests or bench' },
            {
              regex: `(^|/)(${['order', 'stock', 'payment'].filter((p) => p !== pkg).join('|')})/src/`,
              message: pkg === 'common' ? 'common must not import a service' : 'a service must not import another service',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['packages/launcher/src/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)(test|bench)/', message: "the launcher's runtime must not import tests or bench" }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
