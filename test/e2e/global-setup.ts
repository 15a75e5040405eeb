// One shared system for the end-to-end files that need no faults of their own; each test uses its own queues.
import type { TestProject } from 'vitest/node';
import { startSystem, type System } from './system.ts';

let system: System | undefined;

export async function setup(project: TestProject) {
  // Queues named sharded-* have three shards (test/e2e/shards.test.ts).
  system = await startSystem({ env: { DROVER_SHARDS: JSON.stringify({ 'sharded-*': 3 }) } });
  project.provide('hubUrl', system.url);
  project.provide('triggersUrl', system.triggers);
  project.provide('stateDir', system.stateDir);
}

export async function teardown() {
  await system?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    hubUrl: string;
    triggersUrl: string;
    /** The shared system's state directory: its local D1 and Durable Object files (test/e2e/jurisdictions.test.ts reads them). */
    stateDir: string;
  }
}
