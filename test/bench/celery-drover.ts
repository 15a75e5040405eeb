// Celery over drover: the Celery peer's very app, workers and producer (peers/celery.ts), with only
// the broker changed to a fresh `npm start` (drover's kombu transport, python/drover/celery/).
// Completions are still counted in a redis-server, which carries no task.
import { resolve } from 'node:path';
import { Api, TOKENS, type System } from '../e2e/system.ts';
import { defaultStateOn, startHub } from './drover.ts';
import { celeryOn } from './peers/celery.ts';
import type { BenchSystem } from './types.ts';

const PACKAGE = resolve(import.meta.dirname, '..', '..', 'python');

export function celeryDrover(): BenchSystem {
  const stateOn = defaultStateOn();
  let system: System | null = null;
  let queues = 0;

  return celeryOn({
    name: 'celery-drover',
    setup: `drover broker (drover://, the hub as drover's: npm start, state ${stateOn === 'memory' ? 'in /dev/shm' : 'on disk'}; the admin token, which may enqueue, claim and pause)`,
    redisSetup: 'a redis-server 7 (no persistence) only to count completions and readiness, not the broker',
    async start() {
      system = await startHub(stateOn);
      // The token in the URL: the bench's admin token, allowed to enqueue and to consume.
      return `drover://:${TOKENS.admin}@127.0.0.1:${system.port}`;
    },
    async stop() {
      await system?.stop();
      system = null;
    },
    // `import drover.celery` in celery_app.py needs the package from this checkout.
    env: () => ({ PYTHONPATH: [PACKAGE, process.env.PYTHONPATH].filter(Boolean).join(':') }),
    // A fresh queue per scenario: nothing left over from the one before, no purge needed.
    nextQueue: () => `bench-celery-${Date.now().toString(36)}-${++queues}`,
    // Paused before the workers start, so none claims before celery_bench.py resumes it at the start of the clock.
    async beforeDrain(queue) {
      const paused = await new Api(system!.url, TOKENS.admin).post(`/v1/queues/${queue}/pause`);
      if (paused.status !== 200) throw new Error(`celery-drover: pausing ${queue} answered ${paused.status} ${paused.text}`);
    },
  });
}
