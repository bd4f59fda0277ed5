// The tests measure the kernel (context switches, accept counts), so they run one at a time.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/?(*.)+(spec|test).ts'],
  transform: {
    // Transpile only (tsconfig has isolatedModules; `npm run typecheck` does the type checking).
    // CommonJS output so that dynamic import() becomes require() inside Jest's module system.
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node10' } }],
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  testTimeout: 60000,
  maxWorkers: 1,
};
