// Unit-test setup: the D1 schema as `npm start` has it, from the same migrations, in the hub's D1 and the EU jurisdiction's.
import { applyD1Migrations, env } from 'cloudflare:test';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
if (env.DB_EU) await applyD1Migrations(env.DB_EU, env.TEST_MIGRATIONS);
