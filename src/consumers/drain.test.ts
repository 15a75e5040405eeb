// What a runner on Cloudflare stores when a job fails: a type and a message, nothing of the runtime.
import { describe, expect, it } from 'vitest';
import { storedError } from './drain.ts';
import { toTaskError } from '../sdk/execute.ts';

describe('the error a runner on Cloudflare stores', () => {
  it('is the type and message of what was thrown, with no stack and no script paths', () => {
    const thrown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'HttpNetworkError' });
    expect(toTaskError(thrown).stack).toContain('HttpNetworkError');
    expect(storedError(toTaskError(thrown))).toEqual({ type: 'HttpNetworkError', message: 'connect ECONNREFUSED 127.0.0.1:9' });

    const inMessage = { type: 'TypeError', message: 'x is undefined (file:///tmp/drover/build/0/index.js:34145:27, /srv/app/node_modules/a/b.mjs:3)', stack: 'TypeError: …' };
    expect(storedError(inMessage)).toEqual({ type: 'TypeError', message: 'x is undefined (<script>, <script>)' });
    // What a person acts on stays: URLs, hosts and ports.
    const http = { type: 'Http404', message: 'GET https://example.com/app.js answered 404: no such page' };
    expect(storedError(http)).toEqual(http);
  });
});
