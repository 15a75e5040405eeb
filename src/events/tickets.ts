// Tickets for the event stream: a browser's EventSource cannot send a token, so it shows a short-lived ticket in the URL instead.
import type { Sql } from '../db/sql.ts';

/** How long a ticket opens streams (the contract's 60 s); a stream it opened stays open past it. */
export const TICKET_MS = 60_000;

const encoder = new TextEncoder();

/** Only a digest is stored: what the object holds does not open streams by itself. */
async function digestOf(ticket: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(ticket)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

interface TicketRow {
  owner: string;
  expires_at: number;
}

export class Tickets {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => number = Date.now,
  ) {
    sql.run(`CREATE TABLE IF NOT EXISTS tickets (digest TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`);
    sql.run(`CREATE INDEX IF NOT EXISTS tickets_expiry ON tickets (expires_at)`);
  }

  /**
   * A new ticket for a token (its fingerprint, the principal's id): 32 random bytes, base64url.
   * Expired ones are forgotten on the way.
   */
  async issue(owner: string): Promise<{ ticket: string; expiresAt: string }> {
    const now = this.now();
    const ticket = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const digest = await digestOf(ticket);
    this.sql.run(`DELETE FROM tickets WHERE expires_at <= ?`, now);
    this.sql.run(`INSERT INTO tickets (digest, owner, expires_at) VALUES (?, ?, ?)`, digest, owner, now + TICKET_MS);
    return { ticket, expiresAt: new Date(now + TICKET_MS).toISOString() };
  }

  /**
   * The fingerprint of the token a ticket was made for, while it lasts; null for an unknown or
   * expired one. A ticket may be shown again until then (EventSource reconnects with its URL).
   */
  async ownerOf(ticket: string): Promise<string | null> {
    if (ticket.length > 100) return null;
    const row = this.sql.one<TicketRow>(`SELECT owner, expires_at FROM tickets WHERE digest = ?`, await digestOf(ticket));
    return row && row.expires_at > this.now() ? row.owner : null;
  }
}
