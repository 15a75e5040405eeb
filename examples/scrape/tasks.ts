// The scraping example's task: fetch a page and report its title, size, and which worker of which region fetched it.
import { defineTask, NonRetryableError, RateLimitedError } from '../../src/sdk/index.ts';

/** Retry-After as seconds: a number of seconds or an HTTP date; absent or unreadable: undefined (the hub waits 1 s). */
function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/**
 * Fetches one page. Enqueue it with the page's region (`cn`, `weur`, `apac`): only a
 * consumer of that region runs it. The request names the worker, so a site can tell
 * who came. Its rate key is the page's host, so a queue's `keyLimits` hold each site to its
 * limit across every region; a site that answers 429 pauses its host for its Retry-After.
 */
export const fetchPage = defineTask('scrape.page', { queue: 'scrape', timeout: 30, maxRetries: 3, rateKey: (url: string) => new URL(url).host }, async ([url]: [string], ctx) => {
  const started = Date.now();
  const res = await fetch(url, { signal: ctx.signal, headers: { 'x-drover-worker': ctx.worker, 'x-drover-region': ctx.region ?? '' } });
  const body = await res.text();
  if (res.status === 404) throw new NonRetryableError(`no page at ${url}`);
  if (res.status === 429 || (res.status === 503 && res.headers.has('retry-after'))) {
    throw new RateLimitedError(`${new URL(url).host} answered ${res.status}`, retryAfter(res.headers.get('retry-after')));
  }
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
