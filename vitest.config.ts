import { defineConfig } from 'vitest/config'

// Two projects: `unit` needs no services and never sleeps (it uses the injected clock);
// `integration` talks to real services (a redis-server started by test/helpers).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
})
