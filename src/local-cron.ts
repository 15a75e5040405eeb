// npm start's cron route: /cdn-cgi/handler/scheduled on the hub's own port, as `wrangler dev --test-scheduled` serves it.
import type { Env } from './env.ts';

export const LOCAL_CRON_PATH = '/cdn-cgi/handler/scheduled';

/** The names the hub has under npm start, which listens on 127.0.0.1 alone. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

type Fetch = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;
type Scheduled = (controller: ScheduledController, env: Env) => Promise<void>;

/**
 * The hub's fetch with the cron route in front: `?cron=` and `?time=` (ms since 1970, default now)
 * become the trigger's controller, and the answer (`ok`, or `{"outcome":"ok"}` with `?format=json`,
 * as wrangler answers) comes once the work is done, so a caller knows when to look.
 *
 * Only when DROVER_LOCAL_CRON is "true", which only npm start sets (scripts/start.ts): it runs the
 * cron trigger for anyone who asks, without a token, which a hub on 127.0.0.1 may allow and a
 * deployed hub may not (on Cloudflare the trigger is Cloudflare's, and /cdn-cgi/ the edge's).
 * Without the var the path is one more unknown path: the app's plain 404.
 *
 * A web page open in the same machine's browser could still call it (a GET needs no CORS to be
 * sent), and a trigger at a time of its choosing sweeps retention as of then. So it refuses what a
 * browser marks as sent by another site (Sec-Fetch-Site), and a Host that is not a loopback name
 * (a page whose name was rebound to 127.0.0.1); curl and scripts send neither.
 */
export function withLocalCron(fetch: Fetch, scheduled: Scheduled): Fetch {
  return async function fetchOrLocalCron(request, env, ctx) {
    const url = new URL(request.url);
    if (env.DROVER_LOCAL_CRON !== 'true' || url.pathname !== LOCAL_CRON_PATH) return fetch(request, env, ctx);
    const site = request.headers.get('sec-fetch-site');
    if ((site !== null && site !== 'same-origin' && site !== 'none') || !LOOPBACK.has(url.hostname)) {
      return new Response('the cron route answers this machine only, not another site in a browser\n', { status: 403 });
    }
    const time = url.searchParams.get('time');
    const scheduledTime = time === null || time === '' ? Date.now() : Number(time);
    if (!Number.isSafeInteger(scheduledTime)) return new Response('time: milliseconds since 1970, as a whole number\n', { status: 400 });
    const controller: ScheduledController = { scheduledTime, cron: url.searchParams.get('cron') ?? '', noRetry() {} };
    let outcome = 'ok';
    try {
      await scheduled(controller, env);
    } catch (err) {
      console.error('scheduled work failed', err);
      outcome = 'exception';
    }
    const status = outcome === 'ok' ? 200 : 500;
    return url.searchParams.get('format') === 'json' ? Response.json({ outcome, noRetry: false }, { status }) : new Response(outcome, { status });
  };
}
