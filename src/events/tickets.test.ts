// Event stream tickets, with an injected clock: random, good for 60 s, for the principal they were made for.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { Sql } from '../db/sql.ts';
import type { Principal } from '../protocol/principals.ts';
import { TICKET_MS, Tickets } from './tickets.ts';

const principal: Principal = { id: 'abc123', admin: false, enqueue: true, consumeAny: false, consumeRegions: new Set(['cn']) };

describe('tickets', () => {
  it('open streams for their principal until they expire, then never', async () => {
    await runInDurableObject(env.EVENTS.getByName('tickets-test'), async (_instance, state) => {
      let now = 1_000_000;
      const tickets = new Tickets(new Sql(state.storage.sql), () => now);
      const a = await tickets.issue(principal);
      const b = await tickets.issue(principal);
      expect(a.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a.ticket).not.toBe(b.ticket);
      expect(a.expiresAt).toBe(new Date(now + TICKET_MS).toISOString());
      // Shown again (EventSource reconnects with the same URL): still good.
      expect(await tickets.principalOf(a.ticket)).toEqual(principal);
      now += TICKET_MS - 1;
      expect(await tickets.principalOf(a.ticket)).toEqual(principal);
      now += 1;
      expect(await tickets.principalOf(a.ticket)).toBeNull();
      expect(await tickets.principalOf('made-up')).toBeNull();
      expect(await tickets.principalOf('')).toBeNull();
      // Only digests are stored, and expired ones go when the next is made.
      const stored = state.storage.sql.exec(`SELECT digest FROM tickets`).toArray().map((r) => r.digest);
      expect(stored).not.toContain(a.ticket);
      await tickets.issue(principal);
      expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM tickets`).one().n).toBe(1);
    });
  });
});
