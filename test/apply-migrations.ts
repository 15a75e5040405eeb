// Unit-test setup: the D1 schema as `npm start` has it, from the same migrations.
import { applyD1Migrations, env } from 'cloudflare:test';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
