// `npm test`: unit tests inside workerd, then end-to-end tests against `npm start`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['./vitest.unit.config.ts', './vitest.e2e.config.ts'],
  },
});
