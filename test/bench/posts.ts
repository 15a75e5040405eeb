// POSTs from many clients at once, as the HTTP singles figure and the runtime's floor (floor.ts) send them.
import { Agent, request } from 'node:http';

/**
 * POSTs of one body to `url` over node:http with a keep-alive agent of `clients` sockets, each
 * client reusing its own connection. Node's fetch spent 400-700 µs of CPU a request on the bench
 * machine, beside the runtime's on the same two cores; node:http about 120 µs (floor.ts).
 */
export function poster(url: URL, body: string, headers: Record<string, string>, clients: number): { post: () => Promise<void>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const all = { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  const post = () =>
    new Promise<void>((done, fail) => {
      const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: all }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 202 ? done() : fail(new Error(`POST ${url.pathname} answered ${res.statusCode}: ${Buffer.concat(chunks)}`))));
      });
      req.on('error', fail);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** `n` calls of `post`, `clients` at a time, each client's next as soon as its last is answered: calls a second. */
export async function rateOf(n: number, clients: number, post: () => Promise<void>): Promise<number> {
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (sent < n) {
        sent++;
        await post();
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}
