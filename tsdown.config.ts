// The package build (`npm run build`): ESM JavaScript and .d.ts per entry into dist/, what `npm pack` ships.
// tsdown bundles each entry with rolldown and its types with rolldown-plugin-dts, so the package
// carries neither src/ nor tests, and a user's TypeScript reads only the declarations.
import { defineConfig } from 'tsdown';
import { textImports } from './scripts/text-imports.ts';

export default defineConfig({
  entry: {
    // drover: the producer client, for any JavaScript runtime.
    index: 'src/sdk/index.ts',
    // drover/worker: the pull worker.
    worker: 'src/sdk/worker.ts',
    // drover/hub: the hub Worker's handlers and Durable Object classes, to re-export from a deployment's own Worker.
    hub: 'src/hub.ts',
    // drover/regional: a regional consumer on Cloudflare.
    regional: 'src/consumers/regional.ts',
    // The drover command.
    cli: 'bin/drover.ts',
  },
  format: 'esm',
  platform: 'neutral',
  target: 'es2023',
  dts: true,
  clean: true,
  outDir: 'dist',
  deps: { neverBundle: [/^cloudflare:/, /^node:/] },
  // The /docs viewer's script and styles, inside dist/hub.js as strings.
  plugins: [textImports()],
  // Reading 2 MB of text is most of a short build's plugin time, as expected: no warning for it.
  inputOptions: { checks: { pluginTimings: false } },
});
