// Unit tests run inside workerd with the hub's own bindings (D1, Durable Objects, the bus).
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineProject } from 'vitest/config';
import { textImports } from './scripts/text-imports.ts';

/** Stand-ins for the regional consumers the hub wakes: they record each wake for the tests to read. */
const wakes: { region: string; body: string; authorization: string | null }[] = [];
const regionStandIn = (region: string) => async (request: Request) => {
  if (request.method === 'GET') return Response.json(wakes.filter((w) => w.region === region));
  wakes.push({ region, body: await request.text(), authorization: request.headers.get('authorization') });
  return new Response(null, { status: 202 });
};

export default defineProject({
  plugins: [
    // The /docs viewer's files, imported as text (src/api/docs.ts).
    textImports(),
    cloudflareTest(async () => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        serviceBindings: { REGION_WEUR: regionStandIn('weur'), REGION_APAC: regionStandIn('apac') },
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations('./migrations'),
          DROVER_TOKENS: 'unit-admin:admin',
          // Queues named sharded-* have three shards (src/queue/shards.test.ts).
          DROVER_SHARDS: JSON.stringify({ 'sharded-*': 3 }),
          // workerd has no jurisdictions: weur's objects are kept apart by name (src/queue/stubs.ts).
          DROVER_LOCAL_JURISDICTIONS: 'true',
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
