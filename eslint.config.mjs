import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'coverage/**', 'bff/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through @hp/config only.' },
      ],
    },
  },
  // Entry points hand the environment to @hp/config; tests and scripts set up environments.
  {
    files: [
      'config/**',
      'scripts/**',
      'test/**',
      '**/*.test.ts',
      'bff/src/main.ts',
      'bff/src/sandbox/serve.ts',
      'bff/src/cli/**',
      // The client's build settings (Taro reads its config in Node) and its DevTools specs.
      'client/config/**',
      'client/automator/**',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  // Simulators and tests parse arbitrary JSON from the wire on purpose.
  {
    files: ['bff/src/sandbox/**', 'test/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['jest.config.js', '**/*.cjs', 'client/babel.config.js'],
    languageOptions: { globals: { module: 'writable', require: 'readonly' } },
  },
);
