// Event stream tickets, with an injected clock: random, good for 60 s, for the token they were made for.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { Sql } from '../db/sql.ts';
import { TICKET_MS, Tickets } from './tickets.ts';

const owner = '0123456789abcdef';

describe('tickets', () => {
  it('open streams for their token until they expire, then never', async () => {
    await runInDurableObject(env.EVENTS.getByName('tickets-test'), async (_instance, state) => {
      let now = 1_000_000;
      const tickets = new Tickets(new Sql(state.storage.sql), () => now);
      const a = await tickets.issue(owner);
      const b = await tickets.issue(owner);
      expect(a.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a.ticket).not.toBe(b.ticket);
      expect(a.expiresAt).toBe(new Date(now + TICKET_MS).toISOString());
      // Shown again (EventSource reconnects with the same URL): still good.
      expect(await tickets.ownerOf(a.ticket)).toBe(owner);
      now += TICKET_MS - 1;
      expect(await tickets.ownerOf(a.ticket)).toBe(owner);
      now += 1;
      expect(await tickets.ownerOf(a.ticket)).toBeNull();
      expect(await tickets.ownerOf('made-up')).toBeNull();
      expect(await tickets.ownerOf('')).toBeNull();
      // Only digests are stored, and expired ones go when the next is made.
      const stored = state.storage.sql.exec(`SELECT digest FROM tickets`).toArray().map((r) => r.digest);
      expect(stored).not.toContain(a.ticket);
      await tickets.issue(owner);
      expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM tickets`).one().n).toBe(1);
    });
  });
});
