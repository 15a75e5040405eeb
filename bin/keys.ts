// `drover keys QUEUE`: a queue's rate keys (GET /v1/queues/:queue/keys): each key's rate now and as
// configured, its concurrency limit, its tasks running and waiting, and how long it is paused.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, hubOf, show, table } from './hub.ts';
import type { KeyRecord } from '../src/protocol/answers.ts';

const usage = `usage: drover keys QUEUE [--url URL] [--token TOKEN] [--json]
Lists the rate keys of a queue that have tasks waiting or running, a pause, or a rate lowered
by "rate limited" reports: the rate it may start tasks at now and the configured one
(keyLimits), its concurrency limit, tasks running and waiting, rate-limited reports, and how
long it stays paused. --json prints the hub's keys as they are (every page of them).
  --url URL, --token TOKEN   the hub and a token (default $DROVER_URL, $DROVER_TOKEN)`;


const PER: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "1/s of 2/s": the rate now in the configured rate's unit, then the configured rate; "-" with none. */
export function rateText(k: Pick<KeyRecord, 'rate' | 'currentRate'>): string | null {
  const unit = k.rate?.split('/')[1] ?? 's';
  const now = k.currentRate === null ? null : `${Math.round(k.currentRate * (PER[unit] ?? 1) * 100) / 100}/${unit}`;
  if (now === null) return k.rate;
  return k.rate === null ? now : `${now} of ${k.rate}`;
}

/** "for 12s" while the key is paused, "" once the pause is over. */
export function pausedText(pausedUntil: number | null, now = Date.now()): string {
  return pausedUntil !== null && pausedUntil > now ? `for ${Math.ceil((pausedUntil - now) / 1000)}s` : '';
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: HUB_FLAGS });
  const [queue, ...extra] = positionals;
  if (!queue || extra.length) throw new UsageError('one queue name is needed, e.g. drover keys scrape');
  const hub = hubOf(values);
  const keys: KeyRecord[] = [];
  // The hub answers at most 1,000 keys a page; the table shows them all.
  for (let cursor: string | null = null; ; ) {
    const query: string = `limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: { keys: KeyRecord[]; nextCursor: string | null } = await hub.call('GET', `/v1/queues/${encodeURIComponent(queue)}/keys?${query}`);
    keys.push(...page.keys);
    if (page.nextCursor === null || page.keys.length === 0) break;
    cursor = page.nextCursor;
  }
  show(values.json, { keys }, () => {
    if (keys.length === 0) return `no keys in queue ${queue}: none has tasks waiting or running, a pause, or a lowered rate`;
    const rows = keys.map((k) => ({ ...k, rateNow: rateText(k), paused: pausedText(k.pausedUntil) }));
    return table(rows, [['key', 'KEY'], ['rateNow', 'RATE NOW/SET'], ['concurrency', 'CONCURRENCY'], ['running', 'RUNNING'], ['waiting', 'WAITING'], ['rateLimited', 'RATE LIMITED'], ['paused', 'PAUSED']]);
  });
  return 0;
}

export const keysCommand: Command = { name: 'keys', summary: 'list a queue\'s rate keys: rate now and configured, running, waiting, paused', usage, run };
