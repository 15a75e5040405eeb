// The bindings unit tests see: the hub's, plus the migrations to apply.
import type { D1Migration } from 'cloudflare:test';
import type { Env as HubEnv } from '../src/env.ts';

declare global {
  namespace Cloudflare {
    interface Env extends HubEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** Stand-ins for the regional consumers (vitest.unit.config.ts). */
      REGION_WEUR: Fetcher;
      REGION_APAC: Fetcher;
    }
  }
}
