// The scraping example's task: fetch a page and report its title, size, and which worker of which region fetched it.
import { defineTask, NonRetryableError } from '../../src/sdk/index.ts';

/**
 * Fetches one page. Enqueue it with the page's region (`cn`, `weur`, `apac`): only a
 * consumer of that region runs it. The request names the worker, so a site can tell
 * who came.
 */
export const fetchPage = defineTask('scrape.page', { queue: 'scrape', timeout: 30, maxRetries: 3 }, async ([url]: [string], ctx) => {
  const started = Date.now();
  const res = await fetch(url, { signal: ctx.signal, headers: { 'x-drover-worker': ctx.worker, 'x-drover-region': ctx.region ?? '' } });
  const body = await res.text();
  if (res.status === 404) throw new NonRetryableError(`no page at ${url}`);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return {
    url,
    status: res.status,
    title: /<title>([^<]*)<\/title>/i.exec(body)?.[1] ?? null,
    bytes: body.length,
    fetchedBy: ctx.worker,
    region: ctx.region,
    ms: Date.now() - started,
  };
});
