// HTTP tasks: which URLs may be called, Standard Webhooks signatures with rotation, Retry-After.
import { describe, expect, it } from 'vitest';
import { refusal, retryAfter, signatureHeaders, verifyWebhook } from './http-task.ts';

describe('who may be called', () => {
  it('only https, never private, loopback, link-local or metadata addresses', () => {
    expect(refusal('https://example.com/hook', [])).toBeNull();
    expect(refusal('https://[::ffff:8.8.8.8]/', [])).toBeNull();
    for (const [url, why] of [
      ['http://example.com/', /https/],
      ['ftp://example.com/', /https/],
      ['https://127.0.0.1/', /private/],
      ['https://10.1.2.3/', /private/],
      ['https://172.20.0.1/', /private/],
      ['https://192.168.1.1/', /private/],
      ['https://169.254.169.254/latest/meta-data', /private/],
      ['https://100.64.0.1/', /private/],
      ['https://0.0.0.0/', /private/],
      ['https://[::1]/', /private/],
      ['https://[fd00::1]/', /private/],
      ['https://[::ffff:10.0.0.1]/', /private/],
      ['https://[::ffff:169.254.169.254]/', /private/],
      ['https://[64:ff9b::7f00:1]/', /private/],
      ['https://localhost/', /private/],
      ['https://metadata.google.internal/', /private/],
      ['https://printer.local/', /private/],
      ['https://intranet/', /private/],
      ['https://user:pw@example.com/', /credentials/],
      ['not a url', /not a URL/],
    ] as const) {
      expect(refusal(url, []), url).toMatch(why);
    }
  });

  it('lets DROVER_HTTP_ALLOW name hosts and ranges, plain http included', () => {
    expect(refusal('http://127.0.0.1:8080/x', ['127.0.0.1'])).toBeNull();
    expect(refusal('https://10.9.8.7/', ['10.0.0.0/8'])).toBeNull();
    expect(refusal('https://127.0.0.2/', ['127.0.0.1'])).toMatch(/private/);
    expect(refusal('https://intranet/', ['intranet'])).toBeNull();
  });
});

describe('signatures', () => {
  const keyA = `whsec_${btoa('first key, 24 bytes long')}`;
  const keyB = 'a plain second key';

  it('verify with any current key, so keys can rotate', async () => {
    const headers = await signatureHeaders([keyA, keyB], 'msg_1', '{"a":1}');
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(await verifyWebhook([keyA], headers, '{"a":1}')).toBe(true);
    expect(await verifyWebhook([keyB], headers, '{"a":1}')).toBe(true);
    expect(await verifyWebhook(['another key'], headers, '{"a":1}')).toBe(false);
  });

  it('fail for a changed body, a changed id, or an old timestamp', async () => {
    const headers = await signatureHeaders([keyA], 'msg_2', 'body', Date.now() - 600_000);
    expect(await verifyWebhook([keyA], headers, 'body', 300)).toBe(false);
    expect(await verifyWebhook([keyA], headers, 'body', 900)).toBe(true);
    expect(await verifyWebhook([keyA], headers, 'b0dy', 900)).toBe(false);
    expect(await verifyWebhook([keyA], { ...headers, 'webhook-id': 'msg_3' }, 'body', 900)).toBe(false);
    expect(await verifyWebhook([keyA], {}, 'body')).toBe(false);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfter('3')).toBe(3);
    expect(retryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now())).toBeGreaterThan(3);
    expect(retryAfter('soon')).toBeUndefined();
    expect(retryAfter(null)).toBeUndefined();
  });
});
