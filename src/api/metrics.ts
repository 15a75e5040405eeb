// GET /metrics: Prometheus text format, gathered from every queue's object.
import type { Context } from 'hono';
import { queueNamesEverywhere } from '../db/stores.ts';
import { ACK_BUCKETS, ACK_LE_KEYS } from '../queue/transitions.ts';
import { queueMetrics } from '../queue/stubs.ts';
import { hubD1 } from '../db/counted.ts';
import type { AuthVars } from './auth.ts';
import { principalOf, requireAdmin } from '../protocol/principals.ts';

type Sample = [labels: Record<string, string>, value: number];

function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: [string, Sample][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [suffix, [labels, value]] of samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
    lines.push(`${name}${suffix}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }
  return lines.join('\n');
}

/** Admin token needed, unless METRICS_PUBLIC is set (for a scraper inside your network). */
export async function metrics(c: Context<AuthVars>): Promise<Response> {
  if (!c.env.METRICS_PUBLIC) requireAdmin(await principalOf(c.req.header('authorization'), c.env.DROVER_TOKENS));
  // Before this scrape's own D1 read, as each object reads its counts before its own reads.
  const hubSent = hubD1.d1;
  const names = await queueNamesEverywhere(c.env);
  const all = await Promise.all(names.map(async (queue) => ({ queue, m: await queueMetrics(c.env, queue) })));
  const finished: [string, Sample][] = [];
  const depth: [string, Sample][] = [];
  const oldest: [string, Sample][] = [];
  const retries: [string, Sample][] = [];
  const dead: [string, Sample][] = [];
  const hist: [string, Sample][] = [];
  const keyFamilies = { waiting: [] as [string, Sample][], running: [] as [string, Sample][], rate: [] as [string, Sample][], paused: [] as [string, Sample][], limited: [] as [string, Sample][] };
  for (const { queue, m } of all) {
    for (const k of m.keys) {
      const labels = { queue, key: k.key };
      keyFamilies.waiting.push(['', [labels, k.waiting]]);
      keyFamilies.running.push(['', [labels, k.running]]);
      if (k.currentRate !== null) keyFamilies.rate.push(['', [labels, k.currentRate]]);
      keyFamilies.paused.push(['', [labels, k.pausedUntil !== null ? 1 : 0]]);
      keyFamilies.limited.push(['', [labels, k.rateLimited]]);
    }
    for (const state of ['succeeded', 'failed', 'revoked', 'expired']) finished.push(['', [{ queue, state }, m.counters[`final:${state}`] ?? 0]]);
    for (const state of ['ready', 'delayed', 'running'] as const) depth.push(['', [{ queue, state, region: '_all' }, m.stats[state]]]);
    for (const [region, r] of Object.entries(m.stats.regions)) {
      depth.push(['', [{ queue, state: 'ready', region }, r.ready]], ['', [{ queue, state: 'running', region }, r.running]]);
    }
    oldest.push(['', [{ queue }, (m.oldestReadyMs ?? 0) / 1000]]);
    retries.push(['', [{ queue }, m.counters.retries ?? 0]]);
    dead.push(['', [{ queue }, m.dead]]);
    // An ack counts in every bucket at or above its duration, so the buckets are cumulative already.
    ACK_BUCKETS.forEach((le, i) => hist.push(['_bucket', [{ queue, le: String(le) }, m.counters[ACK_LE_KEYS[i]] ?? 0]]));
    hist.push(['_bucket', [{ queue, le: '+Inf' }, m.counters.ack_count ?? 0]], ['_sum', [{ queue }, m.counters.ack_sum ?? 0]], ['_count', [{ queue }, m.counters.ack_count ?? 0]]);
  }
  const text = [
    family('drover_tasks_finished_total', 'counter', 'Tasks that reached a final state, by queue and state.', finished),
    family('drover_queue_tasks', 'gauge', 'Tasks waiting or running, by queue, state and region.', depth),
    family('drover_queue_oldest_ready_seconds', 'gauge', 'Age of the oldest task ready to run, by queue.', oldest),
    family('drover_task_retries_total', 'counter', 'Failed attempts that were retried, by queue.', retries),
    family('drover_dead_letters', 'gauge', 'Failed tasks kept as dead letters, by queue.', dead),
    family('drover_claim_to_ack_seconds', 'histogram', 'Time from claim to ack of succeeded attempts, by queue.', hist),
    family('drover_sqlite_statements_total', 'counter', 'SQLite statements run since start, by queue: store="object" on its objects\' own storage, store="d1" sent to D1 by its objects (a batch of k counts k); queue="_hub": sent to D1 by this hub isolate.', [
      ...all.flatMap(({ queue, m }): [string, Sample][] => [['', [{ queue, store: 'object' }, m.statements.object]], ['', [{ queue, store: 'd1' }, m.statements.d1]]]),
      ['', [{ queue: '_hub', store: 'd1' }, hubSent]],
    ]),
    family('drover_key_waiting', 'gauge', 'Tasks waiting (ready or delayed), by queue and rate key: the 100 keys with most waiting per queue.', keyFamilies.waiting),
    family('drover_key_running', 'gauge', 'Tasks running, by queue and rate key.', keyFamilies.running),
    family('drover_key_current_rate', 'gauge', 'Tasks per second a rate key may start now, after back-off (keys with a rate).', keyFamilies.rate),
    family('drover_key_paused', 'gauge', '1 while a rate key is paused after a rate-limited report.', keyFamilies.paused),
    family('drover_key_rate_limited_total', 'counter', 'Rate-limited reports per rate key since its queue object started.', keyFamilies.limited),
  ].join('\n\n');
  return c.text(`${text}\n`, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
}
