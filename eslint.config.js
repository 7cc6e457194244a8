// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'test-output/', '.dormouse/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // The core knows nothing of Slack, AWS, cron or pino (DESIGN.md): enforced here, and by test/architecture.test.ts.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@slack/*', '@aws-sdk/*', 'node-cron', 'pino', 'dynalite'], message: 'The core uses ports, not SDKs.' },
            { group: ['**/adapters/**', '**/config/**', '**/scheduler/**', '**/main.js'], message: 'The core must not depend on outer layers.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/adapters/sandbox/slack-console/assets/**/*.js', 'src/adapters/sandbox/slack-console/**/*.browser.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', EventSource: 'readonly', fetch: 'readonly', location: 'readonly', localStorage: 'readonly', HTMLElement: 'readonly' } },
  },
);
