// Two projects: `unit` (the pure core and adapters, fast) and `e2e` (real control plane).
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  resolver: '<rootDir>/jest.resolver.cjs',
  testEnvironment: 'node',
};

export default {
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/operator'], testMatch: ['**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/e2e'],
      testMatch: ['**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/e2e/harness/global-setup.mjs',
      globalTeardown: '<rootDir>/e2e/harness/global-teardown.mjs',
    },
  ],
};
