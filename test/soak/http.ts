// The soak's HTTP calls to the hub: every answer counted by status, every 5xx and hang kept, a dropped connection
// (the runtime killed mid-request) told apart from an answer.
import type { Ledger } from './ledger.ts';

export type Outcome<T = any> = { status: number; body: T; text: string } | { status: 'no answer' | 'timeout'; body: null; text: string };

export interface Hub {
  call<T = any>(method: string, path: string, body?: unknown, options?: { timeoutMs?: number; count?: boolean }): Promise<Outcome<T>>;
}

/**
 * `killedSince(t)` says whether the soak killed the runtime since t: a request it cut off is not
 * a hang of the hub's. Calls made for the checks themselves pass `count: false` and are not tallied.
 */
export function hubClient(url: string, token: string, ledger: Ledger, killedSince: (t: number) => boolean): Hub {
  return {
    async call(method, path, body, options = {}) {
      const { timeoutMs = 120_000, count = true } = options;
      const tally = (key: string) => {
        if (count) ledger.answered.byStatus[key] = (ledger.answered.byStatus[key] ?? 0) + 1;
      };
      const at = Date.now();
      let res: Response;
      let text: string;
      try {
        res = await fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        if (timedOut && !killedSince(at)) {
          ledger.answered.serverErrors.push({ at, method, path: path.slice(0, 120), status: 'timeout', body: `no answer in ${timeoutMs / 1000} s` });
        }
        tally(timedOut ? 'timeout' : 'no answer');
        return { status: timedOut ? 'timeout' : 'no answer', body: null, text: String((err as Error).cause ?? err) };
      }
      tally(String(res.status));
      let parsed: any = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      if (res.status >= 500) ledger.answered.serverErrors.push({ at, method, path: path.slice(0, 120), status: res.status, body: text.slice(0, 500) });
      return { status: res.status, body: parsed, text };
    },
  };
}
