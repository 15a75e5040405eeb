// drover/worker: the pull worker, for programs that run tasks: claim over HTTP or a socket, run, ack.
export { PullWorker, type JobEvent, type PullWorkerOptions } from './pull.ts';
export { executeJob, type JobTransport } from './execute.ts';
export { defineTask, tasksOf, type AnyTask, type TaskContext, type TaskDefinition, type TaskHandler, type TaskOptions } from './task.ts';
export { HubError, NonRetryableError, RateLimitedError, RetryLaterError, TaskFailedError } from './errors.ts';
