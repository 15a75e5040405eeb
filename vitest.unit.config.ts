// Unit tests run inside workerd with the hub's own bindings (D1, Durable Objects, the bus).
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineProject } from 'vitest/config';

export default defineProject({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations('./migrations'),
          DROVER_TOKENS: 'unit-admin:admin',
        },
      },
    })),
  ],
  test: {
    name: 'unit',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./test/apply-migrations.ts'],
  },
});
