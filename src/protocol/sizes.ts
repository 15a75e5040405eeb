// The sizes the API takes (docs/protocol.md, "Limits"); each hop behind it takes them in chunks of its own limits.

/** The contract (docs/protocol.md): a task message is at most 128 KiB of JSON. */
export const MAX_TASK_BYTES = 128 * 1024;

/**
 * A batch's JSON at most. Its tasks travel to their queue's object in one RPC, which Cloudflare
 * caps at 32 MiB serialised (two bytes a character for text outside Latin-1): 16 MiB of JSON
 * stays under it. Storage and the bus take them in chunks of their own limits.
 */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
