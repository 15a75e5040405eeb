// The hub's HTTP app: health, auth on /v1, the route groups, and one error shape for everything.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { auditRoutes } from './audit.ts';
import { broadcasts, control, workers } from './control.ts';
import type { Env } from '../env.ts';
import { eventsObject } from '../events/EventsObject.ts';
import { authenticate, type AuthVars } from './auth.ts';
import { requireEnqueue } from '../protocol/principals.ts';
import { discardRest } from '../core/bytes.ts';
import { DroverError, errorResponse, onError } from '../protocol/errors.ts';
import { pageFile, securityHeaders, shellPage } from './headers.ts';
import { claims, leases } from './leases.ts';
import { queues } from './queues.ts';
import { dashboardCss, dashboardJs, dashboardPage, favicon } from './dashboard/index.ts';
import { metrics } from './metrics.ts';
import { openapi } from './openapi.ts';
import { docs } from './docs.ts';
import { schedules } from './schedules.ts';
import { sockets } from './sockets.ts';
import { stats } from './stats.ts';
import { tasks } from './tasks.ts';
import { workflows } from './workflows.ts';
import { healthy, type Answer } from '../protocol/answers.ts';
import { everyDb } from '../db/stores.ts';

export const app = new Hono<AuthVars>();

app.onError(onError);

/** Every answer, errors included: no framing, no sniffing, no referrer, a content policy (pages: their own). */
app.use('*', securityHeaders);

/** `npm start`'s line per request (DROVER_LOG_REQUESTS); a socket's line comes when it opens. */
app.use('*', async function logRequest(c, next) {
  if (c.env.DROVER_LOG_REQUESTS !== 'true') return next();
  const started = Date.now();
  await next();
  console.log(`${c.req.method} ${c.req.path} ${c.res.status} (${Date.now() - started}ms)`);
});

/**
 * How much of a refused request's body the hub still reads, and for how long. A server that answers
 * before the body has ended must read the rest or close the connection, and the runtime closes it
 * once more than 64 KiB is left, after its answer went out without `Connection: close`: a client
 * that had already sent its next request on that connection loses it. Past these bounds (far above
 * any body the API takes) the connection does close.
 */
const DISCARD_BYTES = 64 * 1024 * 1024;
const DISCARD_MS = 10_000;

/** Every answer leaves the request's body read to its end: refusals (auth, 404, 413, 400) answer before reading it all. */
app.use('*', async function readBodyToItsEnd(c, next) {
  await next();
  const request = c.req.raw;
  // A handler that succeeded has read its body to the end, or never looked at it.
  if (request.body && (c.res.status >= 400 || !request.bodyUsed)) await discardRest(request.body, DISCARD_BYTES, DISCARD_MS);
});

app.notFound((c) => errorResponse(c, 'not_found', `no route ${c.req.method} ${c.req.path}`));

app.get('/healthz', async (c) => {
  // A jurisdiction table that cannot apply (DROVER_JURISDICTIONS) says what is wrong with it here.
  let dbs: D1Database[];
  try {
    dbs = everyDb(c.env);
  } catch (err) {
    throw new DroverError('unavailable', (err as Error).message);
  }
  try {
    // The task table exists once migrations ran, in the hub's D1 and each jurisdiction's: the hub can accept work.
    await Promise.all(dbs.map((db) => db.prepare('SELECT 1 FROM tasks LIMIT 0').run()));
  } catch {
    throw new DroverError('unavailable', 'the database is not ready (have the D1 migrations been applied?)');
  }
  return c.json({ ok: true as const } satisfies Answer<typeof healthy>);
});

app.get('/', (c) => shellPage(c, dashboardPage));
app.get('/dashboard.js', (c) => pageFile(c, dashboardJs, 'text/javascript'));
app.get('/dashboard.css', (c) => pageFile(c, dashboardCss, 'text/css'));
app.get('/favicon.svg', (c) => pageFile(c, favicon, 'image/svg+xml'));
app.get('/metrics', metrics);
app.get('/openapi.json', (c) => c.json(openapi()));
app.route('/', docs);

/** No CORS unless DROVER_CORS_ORIGINS names the origins (comma-separated) that may call the API from a browser. */
app.use('/v1/*', async function corsIfConfigured(c, next) {
  const origins = (c.env.DROVER_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  if (origins.length === 0) return next();
  return cors({ origin: origins, allowHeaders: ['authorization', 'content-type'], allowMethods: ['GET', 'POST', 'PUT', 'DELETE'], maxAge: 600 })(c, next);
});
app.use('/v1/*', authenticate);
app.route('/v1', sockets);
app.route('/v1/tasks', tasks);
app.route('/v1/queues', claims);
app.route('/v1/queues', queues);
app.route('/v1/leases', leases);
app.route('/v1/schedules', schedules);
app.route('/v1/workflows', workflows);
app.route('/v1/stats', stats);
app.route('/v1/audit', auditRoutes);
app.route('/v1/workers', workers);
app.route('/v1/control', control);
app.route('/v1/broadcasts', broadcasts);

/**
 * Server-Sent Events: `event: task` for each task change, `event: worker` for workers claiming, each
 * with an id; `Last-Event-ID` (or `?lastEventId=`) resumes. Opened with a token or a ticket (auth.ts).
 */
app.get('/v1/events', async (c) => {
  requireEnqueue(c.var.principal);
  return eventsObject(c.env).fetch(c.req.raw);
});

/** A short-lived ticket for `GET /v1/events?ticket=`, for browsers (EventSource cannot send a token). */
app.post('/v1/events/ticket', async (c) => {
  requireEnqueue(c.var.principal);
  return c.json(await eventsObject(c.env).issueTicket(c.var.principal.id));
});

export type App = typeof app;
export type { Env };
