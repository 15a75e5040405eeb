// One bench figure of drover's by name, for the profiler and for quick back-to-back pairs.
import type { DroverBench } from './drover.ts';

export const SCENARIOS = ['batch', 'single', 'http', 'drain', 'e2e', 'latency', 'drain4', 'e2e4'] as const;

/**
 * Runs scenario `name` over `n` tasks (latency: for n / BENCH_RATE seconds at BENCH_RATE a second, 100 unless set;
 * drain4 and e2e4: on a queue of 4 shards).
 */
export function runScenario(system: DroverBench, name: string, n: number): Promise<unknown> {
  const rate = Number(process.env.BENCH_RATE ?? 100);
  const run = ({
    batch: () => system.enqueueBatch(n, 1000),
    single: () => system.enqueueSingle(n, 50),
    http: () => system.enqueueHttp(n, 50),
    drain: () => system.drain(n),
    e2e: () => system.endToEnd(n),
    latency: () => system.latency(rate, n / rate),
    drain4: () => system.drainSharded(n, 4),
    e2e4: () => system.endToEndSharded(n, 4),
  } as Record<string, () => Promise<unknown>>)[name];
  if (!run) throw new Error(`no scenario "${name}": ${SCENARIOS.join(', ')}`);
  return run();
}
