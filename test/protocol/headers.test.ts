import { describe, expect, it } from 'vitest';
import { isLegalHeaderValue, mergeHeaders, parseCustomHeaders } from '../../src/protocol/headers.js';
import { basicAuthorization, basicHeaderValue } from '../../src/protocol/auth.js';
import type { Credentials } from '../../src/job/types.js';

describe('parseCustomHeaders', () => {
  it('parses CRLF-separated lines, trims values, lower-cases names', () => {
    expect(parseCustomHeaders('X-One: 1\r\nX-Two:  two words \r\n')).toEqual({ headers: { 'x-one': '1', 'x-two': 'two words' }, rejected: [] });
  });

  it('accepts bare LF and skips empty lines', () => {
    expect(parseCustomHeaders('\nA: 1\n\nB: 2').headers).toEqual({ a: '1', b: '2' });
  });

  it('joins repeated names with ", "', () => {
    expect(parseCustomHeaders('Accept: a\r\naccept: b').headers).toEqual({ accept: 'a, b' });
  });

  it('null, undefined and empty give nothing', () => {
    expect(parseCustomHeaders(null)).toEqual({ headers: {}, rejected: [] });
    expect(parseCustomHeaders(undefined)).toEqual({ headers: {}, rejected: [] });
    expect(parseCustomHeaders('')).toEqual({ headers: {}, rejected: [] });
  });

  it('rejects lines that would break framing or override the protocol', () => {
    const text = [
      'Content-Length: 5',
      'Transfer-Encoding: chunked',
      'Host: evil',
      'Connection: close',
      'BITS-Packet-Type: Ping',
      'bits-session-id: x',
      'Content-Range: bytes 0-1/2',
      'Expect: 100-continue',
      'Bad Name: x',
      'NoColon',
      ' folded continuation',
      'X-Ok: fine',
      'X-Nul: a\u0000b',
      'X-Del: a\u007fb',
      '@at: x',
    ].join('\r\n');
    const parsed = parseCustomHeaders(text);
    expect(parsed.headers).toEqual({ 'x-ok': 'fine' });
    expect(parsed.rejected.map((r) => r.reason)).toEqual([
      'reserved', 'reserved', 'reserved', 'reserved', 'reserved', 'reserved', 'reserved', 'reserved',
      'bad-name', 'no-colon', 'folded', 'bad-value', 'bad-value', 'bad-name',
    ]);
    // What is reported (and logged) is a header name or nothing: never a line that may be a value.
    expect(parsed.rejected.slice(8).map((r) => r.name)).toEqual(['', '', '', 'X-Nul', 'X-Del', '']);
  });

  it('a lone CR cannot smuggle a header', () => {
    expect(parseCustomHeaders('X-A: 1\rX-B: 2').headers).toEqual({ 'x-a': '1', 'x-b': '2' });
  });

  it('never throws on arbitrary input', () => {
    for (const text of [':', '::', ': v', 'a:', '\r\n\r\n', '\u0000', 'x'.repeat(20000), 'é: 1']) {
      expect(() => parseCustomHeaders(text)).not.toThrow();
    }
    expect(parseCustomHeaders(': v').rejected[0]?.reason).toBe('bad-name');
    expect(parseCustomHeaders('a:').headers).toEqual({ a: '' });
  });
});

describe('header helpers', () => {
  it('isLegalHeaderValue', () => {
    expect(isLegalHeaderValue('a\tb c')).toBe(true);
    expect(isLegalHeaderValue('a\nb')).toBe(false);
    expect(isLegalHeaderValue('a\u0100')).toBe(false);
  });
  it('mergeHeaders: later maps win, names lower-cased', () => {
    expect(mergeHeaders({ A: '1', b: '2' }, { a: '3' })).toEqual({ a: '3', b: '2' });
  });
});

describe('Basic credentials', () => {
  const creds = (target: 'SERVER' | 'PROXY', scheme: Credentials['scheme'], userName: string | null, password: string | null): Credentials => ({ target, scheme, userName, password });

  it('encodes user:password as UTF-8 base64', () => {
    expect(basicHeaderValue('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(basicHeaderValue('jürgen', 'pässword')).toBe(`Basic ${Buffer.from('jürgen:pässword', 'utf8').toString('base64')}`);
    expect(basicHeaderValue('u', null)).toBe(`Basic ${Buffer.from('u:').toString('base64')}`);
  });

  it('refuses user names it cannot represent', () => {
    expect(basicHeaderValue(null, 'p')).toBeNull();
    expect(basicHeaderValue('', 'p')).toBeNull();
    expect(basicHeaderValue('a:b', 'p')).toBeNull();
    expect(basicHeaderValue('a\nb', 'p')).toBeNull();
  });

  it('picks the first usable BASIC credential of the target', () => {
    const list = [creds('SERVER', 'NTLM', 'n', 'p'), creds('PROXY', 'BASIC', 'proxy', 'pp'), creds('SERVER', 'BASIC', 'a:b', 'x'), creds('SERVER', 'BASIC', 'srv', 'sp')];
    expect(basicAuthorization(list, 'SERVER')).toBe(basicHeaderValue('srv', 'sp'));
    expect(basicAuthorization(list, 'PROXY')).toBe(basicHeaderValue('proxy', 'pp'));
    expect(basicAuthorization([creds('SERVER', 'DIGEST', 'd', 'p')], 'SERVER')).toBeNull();
    expect(basicAuthorization([], 'SERVER')).toBeNull();
  });
});
