// Every state change of a live task: synchronous functions, each run inside one SQLite transaction
// of its QueueObject with an injected Step (the clock, and what the object does after commit).
// One file per kind of change, under transitions/.
export * from './transitions/step.ts';
export * from './transitions/deliver.ts';
export * from './transitions/claim.ts';
export * from './transitions/lease.ts';
export * from './transitions/timers.ts';
export * from './transitions/purge.ts';
