// Unit-test setup: the D1 schema as `npm start` has it, from the same migrations, in every D1 of the hub (its partitions and the EU jurisdiction's).
import { applyD1Migrations, env } from 'cloudflare:test';

for (const db of [env.DB, env.DB_P1, env.DB_P2, env.DB_P3, env.DB_EU]) if (db) await applyD1Migrations(db, env.TEST_MIGRATIONS);
