// drover worker's status line: its rendering and redrawing as a unit, then on a real pseudo-terminal (script(1)).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { rateOf, renderStatus, statusLine } from '../../bin/worker-status.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const CLEAR = '\r\x1b[2K';

describe('the status line', () => {
  it('shows processed, failed, active/slots and the rate, cut to the terminal width', () => {
    expect(renderStatus({ processed: 120, failed: 3, active: 2, slots: 8, rate: 4.2 })).toBe('processed 120 | failed 3 | active 2/8 | 4.2 tasks/s');
    expect(renderStatus({ processed: 120, failed: 3, active: 2, slots: 8, rate: 0 }, 20)).toBe('processed 120 | fai');
  });

  it('measures the rate over the last 10 s', () => {
    expect(rateOf([1_000, 5_000, 9_000, 12_000], 12_000)).toBe(0.3);
    expect(rateOf([1_000, 5_000, 9_000, 12_000], 16_000)).toBe(0.2);
  });

  it('prints log lines above itself and redraws at most every 500 ms', async () => {
    let written = '';
    let now = 0;
    const line = statusLine({ write: (s: string) => (written += s), columns: 100 }, () => now);
    const numbers = { processed: 0, failed: 0, active: 1, slots: 4 };
    line.follow(() => numbers);
    expect(written).toBe(`${CLEAR}processed 0 | failed 0 | active 1/4 | 0.0 tasks/s`);
    written = '';
    line.print('[a log line]');
    expect(written).toBe(`${CLEAR}[a log line]\nprocessed 0 | failed 0 | active 1/4 | 0.0 tasks/s`);
    written = '';
    numbers.processed = 5;
    now = 1_000;
    for (let i = 0; i < 5; i++) line.event({ event: 'succeeded', task: 't', id: String(i), attempt: 1, attempts: 1 });
    expect(written).toBe(''); // not before the next redraw
    await waitFor('a redraw', async () => written.length > 0, 2_000);
    expect(written).toBe(`${CLEAR}processed 5 | failed 0 | active 1/4 | 0.5 tasks/s`);
    line.close();
    expect(written.endsWith(CLEAR)).toBe(true);
  });
});

const url = inject('hubUrl');
const api = new Api(url);
const root = resolve(import.meta.dirname, '..', '..');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('drover worker on a terminal', () => {
  it('keeps the status line at the bottom, and writes none into a pipe', async () => {
    const queue = uniqueQueue('tty');
    const { body } = await api.post('/v1/tasks/batch', { tasks: [{ task: 'test.echo', args: [1], queue }, { task: 'test.refuse', args: ['no'], queue }] });
    const command = [process.execPath, resolve(root, 'bin/drover.ts'), 'worker', '--url', url, '--token', TOKENS.consume, '-Q', queue, '--name', 'tty-1', '--concurrency', '2', resolve(root, 'test/fixtures/tasks.ts')];
    // script(1) runs the worker on a pseudo-terminal of its own, as a person's shell would.
    const script = spawn('script', ['-qfec', command.map(quote).join(' '), '/dev/null'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    script.stdout.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((ok) => script.once('exit', (code) => ok(code)));
    try {
      const echo = await waitFor('the echo task to succeed', async () => {
        const t = (await api.get(`/v1/tasks/${body.tasks[0].id}?wait=5`)).body;
        return t.state === 'succeeded' && t;
      });
      await waitFor('the status line with both tasks', async () => output.includes('processed 2 | failed 1 | active 0/2'), 10_000);
      expect(output).toMatch(new RegExp(`\\r\\x1b\\[2K\\[[^\\]]+INFO/tty-1\\] Task test\\.echo\\[${body.tasks[0].id}\\] succeeded in [\\d.]+s\\r?\\nprocessed`));
      process.kill(echo.result.pid, 'SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      script.kill('SIGKILL');
    }

    const piped = uniqueQueue('pipe');
    const res = await api.post('/v1/tasks', { task: 'test.echo', args: [1], queue: piped });
    const w = spawnWorker({ url, token: TOKENS.consume, queue: piped, name: 'pipe-1' });
    try {
      expect((await api.get(`/v1/tasks/${res.body.id}?wait=30`)).body.state).toBe('succeeded');
      await waitFor('the succeeded line', async () => /succeeded/.test(w.output()), 5_000);
      expect(w.output()).not.toContain('\x1b[');
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });
});
