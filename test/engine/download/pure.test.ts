import { describe, expect, it } from 'vitest';
import { answerChallenge, digestAuthorization, parseChallenges } from '../../../src/engine/download/http-auth.js';
import { locate, planSegments } from '../../../src/engine/download/range-plan.js';
import { followRedirect, redirectPolicy } from '../../../src/engine/download/redirect-policy.js';
import { parseContentRange, readRemoteInfo, sameRemote } from '../../../src/engine/download/remote-file.js';
import { parseCustomHeaders } from '../../../src/protocol/headers.js';
import { isTransientStatus } from '../../../src/transport/http-status.js';
import { BitsError } from '../../../src/shared/errors.js';

describe('download engine pure helpers', () => {
  it('classifies HTTP statuses as BITS does', () => {
    expect([400, 401, 403, 404, 407, 416, 501, 505, 300, 304].map(isTransientStatus).every((t) => !t)).toBe(true);
    expect([408, 409, 429, 500, 502, 503, 504].map(isTransientStatus).every((t) => t)).toBe(true);
  });

  it('parses multi-challenge WWW-Authenticate values', () => {
    const c = parseChallenges('Basic realm="a, b", Digest realm="x", nonce="n\\"1", qop="auth,auth-int", algorithm=SHA-256');
    expect(c).toEqual([
      { scheme: 'basic', params: { realm: 'a, b' } },
      { scheme: 'digest', params: { realm: 'x', nonce: 'n"1', qop: 'auth,auth-int', algorithm: 'SHA-256' } },
    ]);
    expect(answerChallenge('Negotiate', [{ target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 'p' }])).toBeUndefined();
    expect(answerChallenge('Basic realm="r"', [{ target: 'PROXY', scheme: 'BASIC', userName: 'u', password: 'p' }])).toBeUndefined();
  });

  it('parses a hostile WWW-Authenticate (64 KiB of blanks before a stray byte) in linear time', () => {
    const started = performance.now();
    expect(parseChallenges(`Basic${' '.repeat(64 * 1024)}@`)).toEqual([{ scheme: 'basic', params: {} }]);
    expect(parseChallenges(`Basic realm="r",${', '.repeat(32 * 1024)}@`)).toEqual([{ scheme: 'basic', params: { realm: 'r' } }]);
    // Quadratic backtracking took seconds here; linear parsing takes about a millisecond.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('computes the RFC 2617 Digest example response', () => {
    // RFC 2617 §3.5: Mufasa / Circle Of Life.
    const header = digestAuthorization({
      challenge: { scheme: 'digest', params: { realm: 'testrealm@host.com', qop: 'auth', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', opaque: '5ccc069c403ebaf9f0171e9517f40e41' } },
      userName: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nonceCount: 1,
      cnonce: '0a4f113b',
    });
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(header).toContain('nc=00000001');
  });

  it('reads validators, ignoring weak ETags', () => {
    const info = readRemoteInfo({ 'content-length': '10', etag: 'W/"x"', 'accept-ranges': 'bytes', 'last-modified': 'd' });
    expect(info).toEqual({ size: 10, lastModified: 'd', etag: null, acceptRanges: true });
    expect(sameRemote({ size: 1, lastModified: 'a', etag: '"1"' }, { size: 1, lastModified: 'a', etag: null })).toBe(true);
    expect(sameRemote({ size: 1, lastModified: 'a', etag: '"1"' }, { size: 1, lastModified: 'a', etag: '"2"' })).toBe(false);
    expect(parseContentRange('bytes 5-9/10')).toEqual({ start: 5, end: 9, size: 10 });
    expect(parseContentRange('bytes 5-10/10')).toBeNull();
    expect(parseContentRange('bytes 0-1/*')).toEqual({ start: 0, end: 1, size: null });
  });

  it('plans range segments and locates a resume offset', () => {
    const segs = planSegments([{ initialOffset: 10, length: 5 }, { initialOffset: 0, length: 0 }, { initialOffset: 90, length: -1 }], 100);
    expect(segs).toEqual([{ start: 10, length: 5 }, { start: 0, length: 0 }, { start: 90, length: 10 }]);
    expect(locate(segs, 0)).toEqual({ index: 0, done: 0, fileOffset: 0 });
    expect(locate(segs, 7)).toEqual({ index: 2, done: 2, fileOffset: 5 });
    expect(locate(segs, 15)).toBeNull();
    expect(() => planSegments([{ initialOffset: 100, length: -1 }], 100)).toThrow(BitsError);
    expect(planSegments(null, 0)).toEqual([]);
  });

  it('applies the redirect policy bits', () => {
    expect(redirectPolicy(0)).toBe('ALLOW_SILENT');
    expect(redirectPolicy(0x100)).toBe('ALLOW_REPORT');
    expect(redirectPolicy(0x200)).toBe('DISALLOW');
    const from = new URL('https://a.example/x');
    expect(followRedirect({ status: 302, location: '/y#frag', from, hops: 0, securityFlags: 0 }).href).toBe('https://a.example/y');
    expect(() => followRedirect({ status: 302, location: 'http://b.example/', from, hops: 0, securityFlags: 0 })).toThrow(/HTTPS to HTTP/);
    expect(followRedirect({ status: 302, location: 'http://b.example/', from, hops: 0, securityFlags: 0x800 }).href).toBe('http://b.example/');
    expect(() => followRedirect({ status: 302, location: undefined, from, hops: 0, securityFlags: 0 })).toThrow(BitsError);
  });

  it('parses custom headers (the parser shared with uploads)', () => {
    expect(parseCustomHeaders('A: 1\r\nB:2\r\n\r\nbad line\r\nA: 3\r\n').headers).toEqual({ a: '1, 3', b: '2' });
    expect(parseCustomHeaders(null).headers).toEqual({});
  });
});
