// The drover SDK for Node and any JavaScript runtime: define tasks, enqueue them, work them.
export { defineTask, tasksOf, type TaskContext, type TaskDefinition, type TaskHandler, type TaskOptions } from './task.ts';
export {
  createClient, type Client, type ClientOptions, type EnqueueOptions, type Job, type TaskHandle, type TaskRecord, type WorkflowHandle, type WorkflowRecord,
} from './client.ts';
export { chain, chord, group, link, sig, type Group, type Link, type Signature, type Workflow } from './canvas.ts';
export { HubError, NonRetryableError, RetryLaterError, TaskFailedError } from './errors.ts';
export { executeJob, type JobTransport } from './execute.ts';
export { PullWorker, type PullWorkerOptions } from './pull.ts';
export { verifyWebhook, signatureHeaders } from '../core/signing.ts';
