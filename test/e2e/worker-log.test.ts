// What `drover worker` says: a line per job event in Celery's bracketed form, or JSON lines, filtered by --loglevel.
import { describe, expect, inject, it } from 'vitest';
import { Api, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';
import { TOKENS } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);

async function enqueue(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/v1/tasks', body);
  expect(res.status).toBe(202);
  return res.body.id;
}

const final = (id: string) => waitFor(`task ${id} to end`, async () => {
  const r = await api.get(`/v1/tasks/${id}?wait=5`);
  return ['succeeded', 'failed'].includes(r.body.state) && r.body;
});

describe('drover worker logs', () => {
  it('a revoked event when a heartbeat answers revoked, and a retried event with the next attempt\'s time', async () => {
    const queue = uniqueQueue('log-revoke');
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'revoke-worker', flags: ['--json'] });
    try {
      const long = await enqueue({ task: 'test.nap', args: [20_000], queue, timeout: 3 });
      const flaky = await enqueue({ task: 'test.flaky', queue, maxRetries: 1, retryDelay: 2 });
      await waitFor('the nap to run', async () => (await api.get(`/v1/tasks/${long}`)).body.state === 'running');
      expect((await api.post(`/v1/tasks/${long}/revoke`, {})).status).toBe(200);
      await final(flaky);
      await waitFor('the revoked and retried events', async () => {
        const events = w.output().trim().split('\n').map((l) => JSON.parse(l));
        const revoked = events.find((e) => e.event === 'revoked' && e.id === long);
        const retried = events.find((e) => e.event === 'retried' && e.id === flaky);
        return revoked && retried && { revoked, retried };
      }, 20_000).then(({ revoked, retried }) => {
        expect(revoked).toMatchObject({ level: 'warning', task: 'test.nap', attempt: 1 });
        expect(retried).toMatchObject({ level: 'info', task: 'test.flaky', attempt: 1, attempts: 2 });
        // Equal jitter: the retry comes between half and all of the 2 s backoff after the failure.
        const wait = Date.parse(retried.nextAttemptAt) - Date.parse(retried.time);
        expect(wait).toBeGreaterThan(500);
        expect(wait).toBeLessThanOrEqual(2_100);
      });
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });

  it('a line per task received, succeeded, failed with its retry, and failed for good', async () => {
    const queue = uniqueQueue('log');
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'log-worker' });
    try {
      const ok = await enqueue({ task: 'test.echo', args: [1], queue });
      const refused = await enqueue({ task: 'test.refuse', args: ['because'], queue });
      const flaky = await enqueue({ task: 'test.flaky', queue, maxRetries: 1, retryDelay: 0 });
      for (const id of [ok, refused, flaky]) await final(id);
      const line = (level: string, rest: string) => new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3}: ${level}/log-worker\\] ${rest}$`, 'm');
      await waitFor('the last line', async () => line('ERROR', `Task test\\.flaky\\[${flaky}\\] failed`).test(w.output()) || /failed for good.*always broken/.test(w.output()), 10_000);
      const out = w.output();
      expect(out).toMatch(line('INFO', `Task test\\.echo\\[${ok}\\] received \\(attempt 1 of 4\\)`));
      expect(out).toMatch(line('INFO', `Task test\\.echo\\[${ok}\\] succeeded in \\d+\\.\\d{3}s`));
      expect(out).toMatch(line('ERROR', `Task test\\.refuse\\[${refused}\\] failed in \\d+\\.\\d{3}s \\(attempt 1 of 4, failed for good\\): NonRetryableError: because`));
      expect(out).toMatch(line('WARNING', `Task test\\.flaky\\[${flaky}\\] failed in \\d+\\.\\d{3}s \\(attempt 1 of 2, will retry\\): Error: always broken`));
      expect(out).toMatch(line('ERROR', `Task test\\.flaky\\[${flaky}\\] failed in \\d+\\.\\d{3}s \\(attempt 2 of 2, failed for good\\): Error: always broken`));
      expect(out).toMatch(line('INFO', `Task test\\.flaky\\[${flaky}\\] retried: attempt 2 of 2 at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} \\(in \\d+\\.\\ds\\)`));
      expect(out.match(/retried/g)).toHaveLength(1);
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });

  it('with --json, one JSON object per line; --loglevel warning hides what went well', async () => {
    const queue = uniqueQueue('log-json');
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'json-worker', flags: ['--json', '--loglevel', 'warning'] });
    try {
      const ok = await enqueue({ task: 'test.echo', args: [2], queue });
      const refused = await enqueue({ task: 'test.refuse', args: ['no'], queue });
      for (const id of [ok, refused]) await final(id);
      await waitFor('the failure line', async () => w.output().includes(refused), 10_000);
      const lines = w.output().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.every((l) => typeof l.time === 'string' && l.worker === 'json-worker' && ['warning', 'error'].includes(l.level as string))).toBe(true);
      expect(lines).toContainEqual(expect.objectContaining({ level: 'error', event: 'failed', task: 'test.refuse', id: refused, attempt: 1, attempts: 4, retrying: false, error: { type: 'NonRetryableError', message: 'no' } }));
      expect(lines.some((l) => l.id === ok)).toBe(false);
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });
});
