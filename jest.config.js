// Suites, selected with --selectProjects: unit (no root, no processes), integration (the built
// daemon and shim as real processes over a unix socket), privileged (root, real netns) and vm
// (root; a QEMU VM with a Debian kernel, for what this kernel lacks, such as ipvlan).
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: tsJest,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    { ...common, displayName: 'privileged', testMatch: ['<rootDir>/test/netns/**/*.test.ts'] },
    // vm: root, QEMU; boots a Debian kernel (ipvlan) and runs tests inside it (scripts/vm/).
    { ...common, displayName: 'vm', testMatch: ['<rootDir>/test/vm/**/*.test.ts'] },
  ],
};
