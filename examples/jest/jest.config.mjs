// ES module tests: no transform, .mjs test files.
export default { testEnvironment: 'node', transform: {}, testMatch: ['**/*.test.mjs'] };
