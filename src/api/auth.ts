// Authentication of every /v1 route: the bearer token's principal (protocol/principals.ts), set on the context.
import { createMiddleware } from 'hono/factory';
import type { Env } from '../env.ts';
import { principalOf, type Principal } from '../protocol/principals.ts';

export type AuthVars = { Variables: { principal: Principal }; Bindings: Env };

/** Resolves the bearer token to a principal for every /v1 route. */
export const authenticate = createMiddleware<AuthVars>(async function authenticate(c, next) {
  c.set('principal', await principalOf(c.req.header('authorization'), c.env.DROVER_TOKENS));
  await next();
});
