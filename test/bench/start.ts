// How long `npm start` takes to a healthy hub: on an empty state directory (bundling every Worker and
// applying the D1 migrations first), and again on the same directory (reusing both), on disk as a
// user's npm start keeps it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem } from '../e2e/system.ts';

export interface StartTimes {
  /** Seconds from spawning npm start to its "hub ready" line (it prints that once /healthz answers 200). */
  first: number;
  warm: number;
}

async function timedStart(stateDir: string): Promise<number> {
  const began = performance.now();
  const system = await startSystem({ stateDir });
  const seconds = (performance.now() - began) / 1000;
  await system.stop();
  return seconds;
}

export async function startTimes(): Promise<StartTimes> {
  const stateDir = mkdtempSync(join(tmpdir(), 'drover-bench-start-'));
  try {
    const first = await timedStart(stateDir);
    const warm = await timedStart(stateDir);
    return { first, warm };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
