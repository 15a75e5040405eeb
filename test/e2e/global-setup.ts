// One shared system for the end-to-end files that need no faults of their own; each test uses its own queues.
import type { TestProject } from 'vitest/node';
import { startSystem, type System } from './system.ts';

let system: System | undefined;

export async function setup(project: TestProject) {
  system = await startSystem();
  project.provide('hubUrl', system.url);
}

export async function teardown() {
  await system?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    hubUrl: string;
  }
}
