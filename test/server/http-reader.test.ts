import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_LIMITS, parseRequestHead, RequestHeadReader } from '../../src/server/http-reader.js';
import { formatResponseHead } from '../../src/server/http-response.js';

function head(text: string) {
  return parseRequestHead(Buffer.from(text, 'latin1'));
}

function expectError(text: string, status: number): void {
  const r = head(text);
  expect(r.ok, text).toBe(false);
  if (!r.ok) expect(r.error.status, `${text}: ${r.error.reason}`).toBe(status);
}

describe('parseRequestHead', () => {
  it('parses a BITS_POST request with headers', () => {
    const r = head(
      'BITS_POST /up/a.bin HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Fragment\r\nContent-Length: 12\r\nX-A: 1\r\nx-a:  2 ',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.head.method).toBe('BITS_POST');
    expect(r.head.target).toBe('/up/a.bin');
    expect(r.head.version).toBe('1.1');
    expect(r.head.headers.get('bits-packet-type')).toBe('Fragment');
    expect(r.head.headers.get('x-a')).toBe('1, 2');
    expect(r.head.rawHeaders[1]).toEqual(['BITS-Packet-Type', 'Fragment']);
    expect(r.head.contentLength).toBe(12);
    expect(r.head.keepAlive).toBe(true);
  });

  it('handles keep-alive defaults and Connection tokens', () => {
    const close = head('GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close');
    expect(close.ok && close.head.keepAlive).toBe(false);
    const v10 = head('GET / HTTP/1.0');
    expect(v10.ok && v10.head.keepAlive).toBe(false);
    const v10ka = head('GET / HTTP/1.0\r\nConnection: keep-alive');
    expect(v10ka.ok && v10ka.head.keepAlive).toBe(true);
  });

  it('accepts absolute-form targets and no Content-Length (no body)', () => {
    const r = head('GET http://h:1/a?b HTTP/1.1\r\nHost: h:1');
    expect(r.ok && r.head.target).toBe('http://h:1/a?b');
    expect(r.ok && r.head.contentLength).toBe(undefined);
  });

  it('flags Expect: 100-continue and refuses other expectations', () => {
    const r = head('PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-Continue');
    expect(r.ok && r.head.expectContinue).toBe(true);
    expectError('PUT /a HTTP/1.1\r\nHost: x\r\nExpect: something', 417);
  });

  it.each([
    ['empty request line', ''],
    ['two parts', 'GET /'],
    ['double space', 'GET  / HTTP/1.1\r\nHost: x'],
    ['lower-case version', 'GET / http/1.1\r\nHost: x'],
    ['garbage version', 'GET / HTTP/1.x\r\nHost: x'],
    ['bad method', 'GE(T / HTTP/1.1\r\nHost: x'],
    ['relative target', 'GET a/b HTTP/1.1\r\nHost: x'],
    ['non-ASCII target', 'GET /\xe9 HTTP/1.1\r\nHost: x'],
    ['bare LF', 'GET / HTTP/1.1\nHost: x'],
    ['bare CR', 'GET / HTTP/1.1\r\nHost: x\rY: z'],
    ['no colon', 'GET / HTTP/1.1\r\nHost: x\r\nJunk'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : x'],
    ['empty name', 'GET / HTTP/1.1\r\nHost: x\r\n: v'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c'],
    ['control char in value', 'GET / HTTP/1.1\r\nHost: x\r\nA: b\x01c'],
    ['missing Host', 'GET / HTTP/1.1\r\nA: b'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b'],
    ['negative Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: -1'],
    ['non-numeric Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a'],
    ['repeated Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1'],
    ['huge Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999'],
    ['Transfer-Encoding with Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked'],
  ])('refuses %s with 400', (_name, text) => expectError(text, 400));

  it('answers 501 to chunked bodies and 505 to HTTP/2', () => {
    expectError('PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked', 501);
    expectError('GET / HTTP/2.0\r\nHost: x', 505);
  });

  it('enforces the header count and value limits', () => {
    const many = Array.from({ length: DEFAULT_HTTP_LIMITS.maxHeaders + 1 }, (_, i) => `X-${i}: v`).join('\r\n');
    expectError(`GET / HTTP/1.1\r\n${many}`, 431);
    const ok = Array.from({ length: DEFAULT_HTTP_LIMITS.maxHeaders - 1 }, (_, i) => `X-${i}: v`).join('\r\n');
    expect(head(`GET / HTTP/1.1\r\nHost: x\r\n${ok}`).ok).toBe(true);
    expectError(`GET / HTTP/1.1\r\nHost: x\r\nA: ${'v'.repeat(DEFAULT_HTTP_LIMITS.maxHeaderValueBytes + 1)}`, 431);
    expect(head(`GET / HTTP/1.1\r\nHost: x\r\nA: ${'v'.repeat(DEFAULT_HTTP_LIMITS.maxHeaderValueBytes)}`).ok).toBe(true);
  });
});

describe('RequestHeadReader', () => {
  const request = 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET';

  it('returns the head and the bytes after it', () => {
    const reader = new RequestHeadReader();
    const r = reader.push(Buffer.from(request));
    expect(r.state).toBe('complete');
    if (r.state !== 'complete') return;
    expect(r.head.contentLength).toBe(3);
    expect(r.rest.toString()).toBe('abcGET');
  });

  it('assembles a head arriving one byte at a time', () => {
    const reader = new RequestHeadReader();
    const bytes = Buffer.from(request);
    let result;
    let i = 0;
    for (; i < bytes.length; i++) {
      result = reader.push(bytes.subarray(i, i + 1));
      if (result.state !== 'incomplete') break;
    }
    expect(result?.state).toBe('complete');
    expect(i).toBe(request.indexOf('\r\n\r\n') + 3);
    if (result?.state === 'complete') expect(result.rest.length).toBe(0);
  });

  it('skips empty lines before the request line', () => {
    const reader = new RequestHeadReader();
    expect(reader.push(Buffer.from('\r\n\r')).state).toBe('incomplete');
    const r = reader.push(Buffer.from('\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(r.state === 'complete' && r.head.method).toBe('GET');
  });

  it('answers 431 once the head outgrows the limit', () => {
    const reader = new RequestHeadReader({ ...DEFAULT_HTTP_LIMITS, maxHeaderBytes: 64 });
    expect(reader.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')).state).toBe('incomplete');
    const r = reader.push(Buffer.from(`A: ${'v'.repeat(100)}\r\n\r\n`));
    expect(r.state === 'error' && r.error.status).toBe(431);
  });

  it('is reusable after reset for the next request', () => {
    const reader = new RequestHeadReader();
    reader.push(Buffer.from('GET / HT'));
    reader.reset();
    expect(reader.hasPartial).toBe(false);
    expect(reader.push(Buffer.from('GET /b HTTP/1.1\r\nHost: x\r\n\r\n')).state).toBe('complete');
  });
});

describe('formatResponseHead', () => {
  it('writes a status line and headers, and refuses CR/LF in values', () => {
    expect(formatResponseHead(201, [['A', 'b']])).toBe('HTTP/1.1 201 Created\r\nA: b\r\n\r\n');
    expect(() => formatResponseHead(200, [['A', 'b\r\nX: y']])).toThrow();
  });
});

describe('RequestHeadReader: bare line endings', () => {
  it('refuses a bare LF or CR as soon as it arrives', () => {
    expect(new RequestHeadReader().push(Buffer.from('GET / HTTP/1.1\nHost')).state).toBe('error');
    const reader = new RequestHeadReader();
    expect(reader.push(Buffer.from('GET / HTTP/1.1\r')).state).toBe('incomplete');
    expect(reader.push(Buffer.from('X')).state).toBe('error');
  });
});

describe('RequestHeadReader: body bytes in the same chunk', () => {
  it('does not check body bytes for line endings', () => {
    const r = new RequestHeadReader().push(Buffer.from('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\n\r\rx'));
    expect(r.state).toBe('complete');
    if (r.state === 'complete') expect(r.rest.toString('latin1')).toBe('\n\r\rx');
  });
});
