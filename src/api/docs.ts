// GET /docs: Swagger UI (the swagger-ui-dist package) reading /openapi.json, served by the hub
// itself, its script and styles at their own paths, so the page loads nothing from elsewhere.
import { Hono } from 'hono';
import { DroverError } from '../protocol/errors.ts';
import { shellPage } from './headers.ts';
// Bundled as text (esbuild under wrangler; the text plugin in tsdown.config.ts and vitest.unit.config.ts):
// about 1.5 MB of script and 0.2 MB of styles, 0.5 MB gzipped, inside the Worker (limit 3 MB gzipped, free plan).
import viewerScript from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'text' };
import viewerStyles from 'swagger-ui-dist/swagger-ui.css' with { type: 'text' };

/** Starts the viewer on the hub's own document; no validator badge (it would load from another site). */
const START = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#api',
  validatorUrl: null,
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  docExpansion: 'list',
});
`;

/** The page's own rules: the viewer's wide blocks scroll inside themselves, never the page. */
const STYLES = `body { margin: 0; }
.swagger-ui .wrapper { padding: 0 12px; box-sizing: border-box; }
.swagger-ui pre, .swagger-ui .highlight-code, .swagger-ui .microlight { overflow-x: auto; max-width: 100%; }
.swagger-ui table { display: block; overflow-x: auto; max-width: 100%; }
.swagger-ui .opblock .opblock-summary-path { word-break: break-all; }
`;

/** The assets by path: the page names each with a hash of its content, so a long cache is safe. */
const ASSETS: Record<string, { type: string; body: string }> = {
  '/docs/viewer.js': { type: 'text/javascript; charset=utf-8', body: viewerScript },
  '/docs/viewer.css': { type: 'text/css; charset=utf-8', body: viewerStyles },
  '/docs/start.js': { type: 'text/javascript; charset=utf-8', body: START },
  '/docs/docs.css': { type: 'text/css; charset=utf-8', body: STYLES },
};

async function version(body: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The page, worked out once per isolate: the assets' hashes never change while it runs. */
let page: Promise<string> | null = null;

function docsPage(): Promise<string> {
  page ??= Promise.all(Object.entries(ASSETS).map(async ([path, a]) => [path, `${path}?v=${await version(a.body)}`] as const)).then((entries) => {
    const at = Object.fromEntries(entries);
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drover API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${at['/docs/viewer.css']}">
<link rel="stylesheet" href="${at['/docs/docs.css']}">
</head>
<body>
<div id="api"></div>
<script src="${at['/docs/viewer.js']}"></script>
<script src="${at['/docs/start.js']}"></script>
</body>
</html>
`;
  });
  return page;
}

export const docs = new Hono();

// The dashboard's policy (headers.ts): scripts and styles from the hub only. Swagger UI needs neither
// inline script nor inline style (React sets styles through the DOM, which the policy allows), and
// its icons are data: URLs, which the policy lets in as images.
docs.get('/docs', async (c) => shellPage(c, await docsPage()));

docs.get('/docs/:asset', (c) => {
  const asset = Object.hasOwn(ASSETS, c.req.path) ? ASSETS[c.req.path] : undefined;
  if (!asset) throw new DroverError('not_found', `no route GET ${c.req.path.slice(0, 100)}`);
  return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=31536000, immutable' });
});
