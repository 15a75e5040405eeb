// `import text from 'file' with { type: 'text' }`, for the bundlers that do not take it themselves:
// tsdown's rolldown (the package build) and vite (the unit tests). wrangler's esbuild reads it natively.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The files imported as text: the /docs viewer's (src/api/docs.ts). */
const TEXT = /^swagger-ui-dist\/[\w.-]+\.(js|css)$/;
/** A text module's id: not the file's (nor ending as it does), so no other plugin takes it for script or styles. */
const PREFIX = '\0drover-text:';
const SUFFIX = '?text';

const require = createRequire(import.meta.url);

/** A rolldown and vite plugin: such a file is a module whose default export is its text. */
export function textImports() {
  return {
    name: 'drover-text-imports',
    enforce: 'pre' as const,
    resolveId(source: string) {
      return TEXT.test(source) ? PREFIX + require.resolve(source) + SUFFIX : null;
    },
    load(id: string) {
      if (!id.startsWith(PREFIX)) return null;
      return { code: `export default ${JSON.stringify(readFileSync(id.slice(PREFIX.length, -SUFFIX.length), 'utf8'))};`, moduleType: 'js', map: null };
    },
  };
}
