/** Jest for every TypeScript package. Integration tests (*.int.test.ts) share one PostgreSQL found or
 *  started by test/setup/global-setup.ts; each test file gets its own database cloned from a migrated
 *  template (test/setup/db.ts). */
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];
module.exports = {
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
  testTimeout: 30000,
  maxWorkers: 2,
};
