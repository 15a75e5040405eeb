// Authentication of every /v1 route: the bearer token's principal (protocol/principals.ts), set on the context.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Env } from '../env.ts';
import { eventsObject } from '../events/EventsObject.ts';
import { DroverError } from '../protocol/errors.ts';
import { parseTokens, principalOf, type Principal } from '../protocol/principals.ts';

export type AuthVars = { Variables: { principal: Principal }; Bindings: Env };

/**
 * The one exception to bearer tokens: a browser's EventSource cannot send a header, so the event
 * stream (only `GET /v1/events`, and only without an Authorization header) takes a ticket from
 * `POST /v1/events/ticket` in its URL. The token itself is never put in a URL.
 */
function streamTicket(c: Context<AuthVars>): string | null {
  if (c.req.method !== 'GET' || c.req.path !== '/v1/events' || c.req.header('authorization') !== undefined) return null;
  return c.req.query('ticket') ?? null;
}

/** Resolves the bearer token (or, on the event stream, the ticket) to a principal for every /v1 route. */
export const authenticate = createMiddleware<AuthVars>(async function authenticate(c, next) {
  const ticket = streamTicket(c);
  if (ticket === null) c.set('principal', await principalOf(c.req.header('authorization'), c.env.DROVER_TOKENS));
  else {
    const owner = await eventsObject(c.env).ticketOwner(ticket);
    // The token as configured now: its scopes today, and none once it is no longer configured.
    const principal = owner && (await parseTokens(c.env.DROVER_TOKENS ?? '')).find((e) => e.principal.id === owner)?.principal;
    if (!principal) throw new DroverError('unauthorized', 'this ticket is not known to the hub or has expired: get another from POST /v1/events/ticket');
    c.set('principal', principal);
  }
  await next();
});
