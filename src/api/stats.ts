// GET /v1/stats: tasks that ended per queue and minute, with latency percentiles, from D1's 48 hours of history.
import { Hono } from 'hono';
import type { AuthVars } from './auth.ts';
import { readHistoryOf } from '../db/history.ts';
import { everyDb } from '../db/stores.ts';
import { HISTORY_MS } from '../core/limits.ts';
import { CLOCK_SLACK_MS } from '../protocol/fields.ts';
import { parseWith, refuseField } from '../protocol/parse.ts';
import { statsQuery } from '../protocol/schemas.ts';
import { instant } from '../protocol/times.ts';
import { statsRecord } from '../protocol/records.ts';
import type { Answer } from '../protocol/answers.ts';

export const stats = new Hono<AuthVars>();

/** What the history shows when no `since` is given. */
const DEFAULT_SPAN_MS = 60 * 60_000;

// Any token: the counts say nothing of what tasks carry.
stats.get('/', async (c) => {
  const q = parseWith(statsQuery, c.req.query(), 'query');
  const now = Date.now();
  const until = q.until === undefined ? now : instant(q.until);
  const since = q.since === undefined ? until - DEFAULT_SPAN_MS : instant(q.since);
  if (since > until) refuseField('query', 'since', 'must not be after until');
  if (until - since > HISTORY_MS + CLOCK_SLACK_MS) refuseField('query', 'since', `must be at most ${HISTORY_MS / 3_600_000} hours before until`);
  const minutes = await readHistoryOf(everyDb(c.env), since, until, q.queue ?? null);
  return c.json({ since: new Date(since).toISOString(), until: new Date(until).toISOString(), minutes } satisfies Answer<typeof statsRecord>);
});
