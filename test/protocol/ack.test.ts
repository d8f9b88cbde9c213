import { describe, expect, it } from 'vitest';
import {
  isValidHostId,
  isValidSessionId,
  readBitsError,
  readCreateSessionAck,
  readFragmentAck,
  readPacketType,
  readReceivedRange,
  resolveReplyUrl,
} from '../../src/protocol/ack.js';

describe('readPacketType', () => {
  it('is case-insensitive and trims', () => {
    for (const v of ['Ack', 'ACK', 'ack', ' aCk ']) expect(readPacketType({ 'bits-packet-type': v })).toBe('ack');
    expect(readPacketType({})).toBe('missing');
    expect(readPacketType({ 'bits-packet-type': '' })).toBe('missing');
    expect(readPacketType({ 'bits-packet-type': 'Fragment' })).toBe('other');
  });
});

describe('readBitsError', () => {
  it('parses hex HRESULTs with 0x, x or nothing', () => {
    expect(readBitsError({ 'bits-error-code': '0x8020001F' }).hresult).toBe(0x8020001f);
    expect(readBitsError({ 'bits-error-code': 'x80070057' }).hresult).toBe(0x80070057);
    expect(readBitsError({ 'bits-error-code': '8020001f' }).hresult).toBe(0x8020001f);
    expect(readBitsError({ 'bits-error-code': '1' }).hresult).toBe(1);
  });
  it('accepts the [MC-BUP] BITS-Error spelling', () => {
    expect(readBitsError({ 'bits-error': '0x80200020' }).hresult).toBe(0x80200020);
  });
  it('malformed codes count as absent, raw kept', () => {
    expect(readBitsError({ 'bits-error-code': 'oops' })).toEqual({ hresult: null, raw: 'oops', context: null });
    expect(readBitsError({ 'bits-error-code': '0x123456789' }).hresult).toBeNull();
    expect(readBitsError({})).toEqual({ hresult: null, raw: null, context: null });
  });
  it('contexts 0x5 and 0x7 only', () => {
    expect(readBitsError({ 'bits-error-context': '0x5' }).context).toBe('REMOTE_FILE');
    expect(readBitsError({ 'bits-error-context': '7' }).context).toBe('REMOTE_APPLICATION');
    expect(readBitsError({ 'bits-error-context': '0x4' }).context).toBeNull();
    expect(readBitsError({ 'bits-error-context': 'zz' }).context).toBeNull();
  });
});

describe('session ids and host ids', () => {
  it('accepts the observed session id shapes', () => {
    for (const id of ['4307700711828196301', '6d58faa9-1111-2222-3333-444455556666', '{72368DC6-1234-5678-9ABC-DEF012345678}', 'a b']) {
      expect(isValidSessionId(id)).toBe(true);
    }
  });
  it('rejects what cannot be echoed', () => {
    for (const id of ['', 'x'.repeat(101), 'a\r\nb', ' lead', 'trail ', 'é', 'a\u0000']) expect(isValidSessionId(id)).toBe(false);
    expect(isValidSessionId('x'.repeat(100))).toBe(true);
  });
  it('host ids are hosts, optionally with a port', () => {
    for (const h of ['server2', 'srv.example.com', '10.0.0.2', '10.0.0.2:8080', '[::1]', '[::1]:81']) expect(isValidHostId(h)).toBe(true);
    for (const h of ['', 'a/b', 'u@h', 'h h', 'h:port', '-x', 'x'.repeat(256)]) expect(isValidHostId(h)).toBe(false);
  });
});

describe('readCreateSessionAck', () => {
  const ok = { 'bits-packet-type': 'Ack', 'bits-session-id': '{S1}', 'bits-protocol': '{7df0354d-249b-430f-820d-3d2a9bef4931}' };
  it('reads the session id', () => {
    expect(readCreateSessionAck(ok)).toEqual({ ok: true, sessionId: '{S1}', hostId: null, hostIdFallbackTimeoutSec: null });
  });
  it('tolerates a missing BITS-Protocol and a differently spelled GUID', () => {
    expect(readCreateSessionAck({ 'bits-session-id': '1' }).ok).toBe(true);
    expect(readCreateSessionAck({ 'bits-session-id': '1', 'bits-protocol': '7DF0354D-249B-430F-820D-3D2A9BEF4931' }).ok).toBe(true);
  });
  it('rejects another protocol', () => {
    expect(readCreateSessionAck({ 'bits-session-id': '1', 'bits-protocol': '{00000000-0000-0000-0000-000000000000}' })).toMatchObject({ ok: false, reason: 'wrong-protocol' });
  });
  it('missing or bad session id', () => {
    expect(readCreateSessionAck({})).toMatchObject({ ok: false, reason: 'missing-session-id' });
    expect(readCreateSessionAck({ 'bits-session-id': 'x'.repeat(101) })).toMatchObject({ ok: false, reason: 'bad-session-id' });
    expect(readCreateSessionAck({ 'bits-session-id': 'a\u0001b' })).toMatchObject({ ok: false, reason: 'bad-session-id' });
  });
  it('Host-Id and its fallback timeout', () => {
    expect(readCreateSessionAck({ ...ok, 'bits-host-id': 'node7', 'bits-host-id-fallback-timeout': '86400' })).toEqual({
      ok: true, sessionId: '{S1}', hostId: 'node7', hostIdFallbackTimeoutSec: 86400,
    });
    expect(readCreateSessionAck({ ...ok, 'bits-host-id': 'node7' })).toMatchObject({ hostId: 'node7', hostIdFallbackTimeoutSec: null });
    expect(readCreateSessionAck({ ...ok, 'bits-host-id': 'http://x/' })).toMatchObject({ ok: false, reason: 'bad-host-id' });
    expect(readCreateSessionAck({ ...ok, 'bits-host-id': 'node7', 'bits-host-id-fallback-timeout': 'soon' })).toMatchObject({ ok: false, reason: 'bad-host-id-fallback-timeout' });
    // A fallback timeout without Host-Id means nothing.
    expect(readCreateSessionAck({ ...ok, 'bits-host-id-fallback-timeout': 'junk' }).ok).toBe(true);
  });
});

describe('readReceivedRange / readFragmentAck', () => {
  it('is the truth within 0..total', () => {
    expect(readReceivedRange({ 'bits-received-content-range': '213' }, 1000)).toEqual({ ok: true, offset: 213 });
    expect(readReceivedRange({ 'bits-received-content-range': '0' }, 1000)).toEqual({ ok: true, offset: 0 });
    expect(readReceivedRange({ 'bits-received-content-range': '1000' }, 1000)).toEqual({ ok: true, offset: 1000 });
  });
  it('missing, malformed and out of range are protocol errors', () => {
    expect(readReceivedRange({}, 10)).toMatchObject({ ok: false, reason: 'missing-received-range' });
    for (const v of ['-1', 'abc', '1.5', 'bytes 0-9/10', '0x10']) {
      expect(readReceivedRange({ 'bits-received-content-range': v }, 10)).toMatchObject({ ok: false, reason: 'bad-received-range' });
    }
    expect(readReceivedRange({ 'bits-received-content-range': '11' }, 10)).toMatchObject({ ok: false, reason: 'bad-received-range' });
  });
  it('reads BITS-Reply-URL when present', () => {
    expect(readFragmentAck({ 'bits-received-content-range': '10', 'bits-reply-url': '/r/1' }, 10)).toEqual({ ok: true, offset: 10, replyUrl: '/r/1' });
    expect(readFragmentAck({ 'bits-received-content-range': '5' }, 10)).toEqual({ ok: true, offset: 5, replyUrl: null });
  });
});

describe('resolveReplyUrl', () => {
  const base = new URL('http://127.0.0.1:8080/up/file.bin?x=1');
  it('resolves relative URLs against the upload URL', () => {
    const r = resolveReplyUrl('reply/42', base);
    expect(r.ok && r.url.href).toBe('http://127.0.0.1:8080/up/reply/42');
    const abs = resolveReplyUrl('https://other.example/r#frag', base);
    expect(abs.ok && abs.url.href).toBe('https://other.example/r');
  });
  it('refuses other schemes and control characters', () => {
    expect(resolveReplyUrl('file:///etc/passwd', base)).toMatchObject({ ok: false, reason: 'bad-reply-url' });
    expect(resolveReplyUrl('/a\u0000b', base)).toMatchObject({ ok: false, reason: 'bad-reply-url' });
    expect(resolveReplyUrl('http://[bad', base)).toMatchObject({ ok: false, reason: 'bad-reply-url' });
    expect(resolveReplyUrl('/'.repeat(5000), base)).toMatchObject({ ok: false, reason: 'bad-reply-url' });
  });
});

describe('readers never throw', () => {
  const junk = ['', ' ', '\u0000', 'x'.repeat(10000), '-', '0x', '{}', '%', '\uffff'];
  it('on any header value', () => {
    for (const v of junk) {
      const h = Object.fromEntries(['bits-packet-type', 'bits-session-id', 'bits-protocol', 'bits-host-id', 'bits-host-id-fallback-timeout', 'bits-received-content-range', 'bits-reply-url', 'bits-error-code', 'bits-error-context'].map((n) => [n, v]));
      expect(() => readPacketType(h)).not.toThrow();
      expect(() => readBitsError(h)).not.toThrow();
      expect(() => readCreateSessionAck(h)).not.toThrow();
      expect(() => readFragmentAck(h, 100)).not.toThrow();
      expect(() => resolveReplyUrl(v, new URL('http://h/'))).not.toThrow();
    }
  });
});
