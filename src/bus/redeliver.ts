// The redelivery sweep: tasks recorded in D1 that no QueueObject has seen go on the bus again.
import { undeliveredSpecs } from '../db/records.ts';
import type { Env } from '../env.ts';
import { send } from './envelope.ts';
import { everyStore } from '../db/stores.ts';

/**
 * A 2xx from enqueue means the task is in D1. The bus is at-least-once in production
 * but may lose messages in flight (locally, on a crash); this sweep closes the gap.
 * Runs from the cron trigger. Returns how many tasks it sent again.
 */
export async function redeliver(env: Env, now = Date.now(), maxPages = 20): Promise<number> {
  let sent = 0;
  // A jurisdiction's tasks go as ids alone: the consumer reads them back from that D1.
  for (const { db, jurisdiction } of everyStore(env)) sent += await redeliverFrom(env, db, jurisdiction !== null, now, maxPages);
  if (sent) console.log(`redelivered ${sent} task(s) the bus had not carried`);
  return sent;
}

async function redeliverFrom(env: Env, db: D1Database, byRef: boolean, now: number, maxPages: number): Promise<number> {
  const after = Number(env.DROVER_REDELIVER_AFTER ?? 120) * 1000;
  let sent = 0;
  let cursor = { createdAt: 0, id: '' };
  for (let page = 0; page < maxPages; page++) {
    const specs = await undeliveredSpecs(db, now - after, cursor, 500);
    if (specs.length === 0) break;
    await send(env.BUS, specs, true, () => byRef);
    sent += specs.length;
    const last = specs[specs.length - 1];
    cursor = { createdAt: last.createdAt, id: last.id };
    if (specs.length < 500) break;
  }
  return sent;
}
