/** Jest for every TypeScript package, in two projects:
 *  - platform: shared, config, bff and test/ in Node. Integration tests (*.int.test.ts) share one PostgreSQL
 *    found or started by test/setup/global-setup.ts; each test file gets its own database cloned from a
 *    migrated template (test/setup/db.ts).
 *  - client: the Taro patient app's logic and components in jsdom, with small mocks of @tarojs/taro and
 *    @tarojs/components (client/test/) and the real NutUI. */
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];
const swcTsx = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', tsx: true },
      transform: { react: { runtime: 'automatic' } },
    },
    module: { type: 'commonjs' },
  },
];
module.exports = {
  testTimeout: 30000,
  maxWorkers: 2,
  projects: [
    {
      displayName: 'platform',
      testEnvironment: 'node',
      roots: ['<rootDir>/shared', '<rootDir>/config', '<rootDir>/bff', '<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/data/', '/test/bench/'],
      transform: { '^.+\\.(t|j)sx?$': swc },
      moduleNameMapper: {
        '^@hp/shared$': '<rootDir>/shared/src/index.ts',
        '^@hp/config$': '<rootDir>/config/src/index.ts',
      },
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFiles: ['<rootDir>/test/setup/network-guard.ts'],
    },
    {
      displayName: 'client',
      testEnvironment: 'jsdom',
      // client/automator: miniprogram-automator specs, skipped without WeChat DevTools (WECHAT_DEVTOOLS_CLI).
      roots: ['<rootDir>/client/src', '<rootDir>/client/automator'],
      testMatch: ['**/*.test.ts', '**/*.test.tsx'],
      transform: { '^.+\\.(t|j)sx?$': swcTsx },
      // NutUI ships ES modules.
      transformIgnorePatterns: ['/node_modules/(?!@nutui/)'],
      moduleNameMapper: {
        '^@hp/shared$': '<rootDir>/shared/src/index.ts',
        '^@hp/shared/(.*)$': '<rootDir>/shared/src/$1',
        '^@tarojs/taro$': '<rootDir>/client/test/taro.ts',
        '^@tarojs/components$': '<rootDir>/client/test/components.tsx',
        '\\.(css|scss)$': '<rootDir>/client/test/style.ts',
      },
      setupFiles: ['<rootDir>/client/test/setup.ts'],
    },
  ],
};
