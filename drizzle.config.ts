// drizzle-kit reads the D1 schema from here and writes SQL migrations for wrangler.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './migrations',
});
