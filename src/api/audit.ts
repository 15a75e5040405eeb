// The audit log: every admin action that changes the system, with who did it and when.
import { desc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono, type Context } from 'hono';
import { auditLog } from '../db/schema.ts';
import type { AuthVars } from './auth.ts';
import { requireAdmin } from '../protocol/principals.ts';
import { parseWith } from '../protocol/parse.ts';
import { auditQuery } from '../protocol/schemas.ts';
import { iso } from '../protocol/times.ts';
import { auditPage, type Answer } from '../protocol/answers.ts';

/** Records an action that succeeded. The actor is the token's fingerprint, never the token. */
export async function audit(c: Context<AuthVars>, action: string, target: string, details?: unknown): Promise<void> {
  await drizzle(c.env.DB)
    .insert(auditLog)
    .values({ at: Date.now(), actor: c.var.principal.id, action, target, details: details === undefined ? null : JSON.stringify(details) })
    .run();
}

export const auditRoutes = new Hono<AuthVars>();

auditRoutes.get('/', async (c) => {
  requireAdmin(c.var.principal);
  const { limit } = parseWith(auditQuery, c.req.query(), 'query');
  const rows = await drizzle(c.env.DB).select().from(auditLog).orderBy(desc(auditLog.id)).limit(limit).all();
  return c.json({
    entries: rows.map((r) => ({ at: iso(r.at)!, actor: r.actor, action: r.action, target: r.target, details: r.details === null ? null : JSON.parse(r.details) })),
  } satisfies Answer<typeof auditPage>);
});
