// HTTP tasks: which URLs may be called, Standard Webhooks signatures with rotation, Retry-After.
import { describe, expect, it } from 'vitest';
import { refusal, retryAfter } from './call.ts';
import { signatureHeaders, verifyWebhook } from '../core/signing.ts';

describe('who may be called', () => {
  it('only https, never private, loopback, link-local or metadata addresses', () => {
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

  // Each of these was called before (823f1f8): spellings and registry entries the guard did not know.
  it.each([
    // A trailing dot names the same host.
    ['https://localhost./', /special-use name \.localhost/],
    ['https://app.localhost./', /special-use name \.localhost/],
    ['https://metadata.google.internal./', /metadata/],
    ['https://intranet./', /single-label/],
    ['https://printer.local./', /\.local\b/],
    ['https://router.home.arpa./', /home\.arpa/],
    ['https://127.0.0.1./', /loopback/],
    ['https://127.0.0.1../', /empty label/],
    // IPv4 inside IPv6, in every spelling the URL parser accepts.
    ['https://[::127.0.0.1]/', /IPv4-compatible/],
    ['https://[::7f00:1]/', /IPv4-compatible/],
    ['https://[::ffff:127.0.0.1]/', /IPv4-mapped/],
    ['https://[0:0:0:0:0:ffff:7f00:1]/', /IPv4-mapped/],
    ['https://[::FFFF:7F00:1]/', /IPv4-mapped/],
    ['https://[::ffff:8.8.8.8]/', /IPv4-mapped/],
    ['https://[::ffff:0:127.0.0.1]/', /IPv4-translated/],
    ['https://[64:ff9b::10.0.0.1]/', /NAT64 of 10\.0\.0\.1, private-use/],
    ['https://[64:ff9b:0:0:0:0:a9fe:a9fe]/', /NAT64 of 169\.254\.169\.254/],
    ['https://[64:ff9b:1::808:808]/', /local-use IPv4\/IPv6 translation/],
    ['https://[2002:7f00:1::]/', /6to4 of 127\.0\.0\.1, loopback/],
    ['https://[2002:c0a8:101::1]/', /6to4 of 192\.168\.1\.1/],
    // IPv6 blocks that are not globally reachable.
    ['https://[fec0::1]/', /site-local/],
    ['https://[ff02::1]/', /multicast/],
    ['https://[ff05::1:3]/', /multicast/],
    ['https://[::]/', /unspecified/],
    ['https://[100::1]/', /discard-only/],
    ['https://[2001::1]/', /IETF protocol assignments/],
    ['https://[2001:db8::1]/', /documentation/],
    ['https://[3fff::1]/', /documentation/],
    ['https://[5f00::1]/', /segment routing/],
    ['https://[fe80::1]/', /link-local/],
    ['https://[4000::1]/', /not allocated for global unicast/],
    // IPv4 blocks that are not globally reachable.
    ['https://192.0.0.9/', /IETF protocol assignments/],
    ['https://192.0.2.1/', /TEST-NET-1/],
    ['https://192.88.99.1/', /6to4 relay/],
    ['https://198.18.0.1/', /benchmarking/],
    ['https://198.51.100.7/', /TEST-NET-2/],
    ['https://203.0.113.7/', /TEST-NET-3/],
    ['https://224.0.0.1/', /multicast/],
    ['https://240.0.0.1/', /reserved/],
    ['https://255.255.255.255/', /broadcast/],
    // Numbers the URL parser reads as IPv4: decimal, hex, octal, short forms.
    ['https://2130706433/', /loopback/],
    ['https://0x7f.1/', /loopback/],
    ['https://0177.0.0.1/', /loopback/],
    ['https://0300.0250.0.1/', /private-use/],
    ['https://127.1/', /loopback/],
    // Public names that wildcard DNS answers with the address they spell.
    ['https://127.0.0.1.nip.io/', /spells 127\.0\.0\.1/],
    ['https://app-10-0-0-1.sslip.io/', /spells 10\.0\.0\.1/],
    ['https://169.254.169.254.nip.io./', /spells 169\.254\.169\.254/],
    ['https://foo.test/', /\.test/],
  ] as const)('refuses %s', (url, why) => {
    const refused = refusal(url, []);
    expect(refused).toMatch(/private, loopback or otherwise not public|empty label/);
    expect(refused).toMatch(why);
  });

  it.each([
    'https://example.com/hook',
    'https://example.com./hook',
    'https://1.1.1.1/',
    'https://8.8.8.8:8443/x',
    'https://[2606:4700::1111]/',
    'https://[2001:4860:4860::8888]/',
    'https://[64:ff9b::8.8.8.8]/',
    'https://[2002:808:808::1]/',
    'https://192.31.196.1/',
    'https://1.1.1.1.nip.io/',
    'https://api.v1.example.com/',
  ])('calls %s', (url) => {
    expect(refusal(url, [])).toBeNull();
  });

  it('lets DROVER_HTTP_ALLOW name hosts and ranges, plain http included', () => {
    expect(refusal('http://127.0.0.1:8080/x', ['127.0.0.1'])).toBeNull();
    expect(refusal('https://10.9.8.7/', ['10.0.0.0/8'])).toBeNull();
    expect(refusal('https://127.0.0.2/', ['127.0.0.1'])).toMatch(/private/);
    expect(refusal('https://intranet/', ['intranet'])).toBeNull();
  });

  it('matches DROVER_HTTP_ALLOW whatever the trailing dot, the case or the spelling', () => {
    expect(refusal('http://127.0.0.1.:8080/x', ['127.0.0.1'])).toBeNull();
    expect(refusal('http://2130706433:8080/x', ['127.0.0.1'])).toBeNull();
    expect(refusal('http://localhost.:8080/x', ['localhost'])).toBeNull();
    expect(refusal('http://LocalHost:8080/x', ['localhost.'])).toBeNull();
    expect(refusal('http://intranet.:8080/x', ['Intranet'])).toBeNull();
    // A name is its own entry: allowing it allows no other name, nor the address it spells.
    expect(refusal('http://127.0.0.1.nip.io/x', ['127.0.0.1'])).toMatch(/https/);
    expect(refusal('http://app.localhost/x', ['localhost'])).toMatch(/https/);
  });

  it('takes IPv6 addresses and ranges in DROVER_HTTP_ALLOW, and keeps the families apart', () => {
    expect(refusal('http://[::1]:8080/x', ['::1'])).toBeNull();
    expect(refusal('http://[::1]:8080/x', ['[::1]'])).toBeNull();
    expect(refusal('https://[fd12:3456::7]/', ['fd00::/8'])).toBeNull();
    expect(refusal('https://[fe80::1]/', ['fd00::/8'])).toMatch(/link-local/);
    expect(refusal('https://[::ffff:127.0.0.1]/', ['127.0.0.1'])).toMatch(/IPv4-mapped/);
    expect(refusal('https://127.0.0.1/', ['::ffff:127.0.0.1'])).toMatch(/loopback/);
    // Malformed entries allow nothing.
    expect(refusal('https://10.0.0.1/', ['10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/8/8', ''])).toMatch(/private-use/);
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
