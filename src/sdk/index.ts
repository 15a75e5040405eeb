// drover: the typed client for producers, in any JavaScript runtime (Node, browsers, Workers, Deno):
// define tasks, enqueue them and their workflows, read their results, verify callbacks.
export { defineTask, tasksOf, type AnyTask, type TaskContext, type TaskDefinition, type TaskHandler, type TaskOptions } from './task.ts';
export {
  createClient, type Client, type ClientOptions, type EnqueueOptions, type Job, type TaskHandle, type TaskRecord, type WorkflowHandle, type WorkflowRecord,
} from './client.ts';
export { chain, chord, group, link, sig, type Group, type Link, type Signature, type Workflow } from './canvas.ts';
export { HubError, NonRetryableError, RateLimitedError, RetryLaterError, TaskFailedError } from './errors.ts';
export { verifyWebhook, signatureHeaders } from '../core/signing.ts';
