import { describe, expect, it } from 'vitest';
import {
  cancelSessionPacket,
  closeSessionPacket,
  contentNameValue,
  createSessionPacket,
  fragmentPacket,
  pingPacket,
} from '../../src/protocol/packets.js';
import { UPLOAD_PROTOCOL_GUID } from '../../src/protocol/constants.js';

describe('packet builders', () => {
  it('Ping: BITS_POST, packet type, empty body', () => {
    expect(pingPacket()).toEqual({ method: 'BITS_POST', packetType: 'Ping', headers: { 'bits-packet-type': 'Ping', 'content-length': '0' } });
  });

  it('Create-Session offers exactly the one protocol GUID, lower case, alone', () => {
    const p = createSessionPacket();
    expect(p.method).toBe('BITS_POST');
    expect(p.headers).toEqual({
      'bits-packet-type': 'Create-Session',
      'bits-supported-protocols': '{7df0354d-249b-430f-820d-3d2a9bef4931}',
      'content-length': '0',
    });
    expect(UPLOAD_PROTOCOL_GUID).toBe(UPLOAD_PROTOCOL_GUID.toLowerCase());
  });

  it('Fragment at offset 0 carries Content-Name; later fragments do not', () => {
    const first = fragmentPacket({ sessionId: '{S}', range: { first: 0, last: 99 }, total: 250, fileName: 'a.log' });
    expect(first.headers).toEqual({
      'bits-packet-type': 'Fragment',
      'bits-session-id': '{S}',
      'content-range': 'bytes 0-99/250',
      'content-length': '100',
      'content-name': 'a.log',
    });
    const next = fragmentPacket({ sessionId: '{S}', range: { first: 100, last: 249 }, total: 250, fileName: 'a.log' });
    expect(next.headers).toEqual({
      'bits-packet-type': 'Fragment',
      'bits-session-id': '{S}',
      'content-range': 'bytes 100-249/250',
      'content-length': '150',
    });
  });

  it('Fragment of a 0-byte file', () => {
    const p = fragmentPacket({ sessionId: '7', range: { first: 0, last: -1 }, total: 0, fileName: 'empty' });
    expect(p.headers['content-range']).toBe('bytes */0');
    expect(p.headers['content-length']).toBe('0');
    expect(p.headers['content-name']).toBe('empty');
  });

  it('Fragment without a file name sends no Content-Name', () => {
    const p = fragmentPacket({ sessionId: '7', range: { first: 0, last: 0 }, total: 1, fileName: null });
    expect(p.headers).not.toHaveProperty('content-name');
  });

  it('Close-Session and Cancel-Session echo the session id as is', () => {
    expect(closeSessionPacket('4307700711828196301').headers).toEqual({
      'bits-packet-type': 'Close-Session',
      'bits-session-id': '4307700711828196301',
      'content-length': '0',
    });
    expect(cancelSessionPacket('{72368DC6-AAAA}').headers).toEqual({
      'bits-packet-type': 'Cancel-Session',
      'bits-session-id': '{72368DC6-AAAA}',
      'content-length': '0',
    });
  });

  it('job headers are added but never override protocol headers', () => {
    const extra = { 'x-tenant': 'a', 'bits-packet-type': 'Evil', 'content-length': '5', authorization: 'Basic eDp5' };
    const p = fragmentPacket({ sessionId: 's', range: { first: 0, last: 1 }, total: 2, fileName: 'f' }, extra);
    expect(p.headers['bits-packet-type']).toBe('Fragment');
    expect(p.headers['content-length']).toBe('2');
    expect(p.headers['x-tenant']).toBe('a');
    expect(p.headers['authorization']).toBe('Basic eDp5');
    expect(closeSessionPacket('s', { 'BITS-Session-Id': 'other' }).headers['bits-session-id']).toBe('s');
  });
});

describe('contentNameValue', () => {
  it('keeps printable ASCII names and strips directories', () => {
    expect(contentNameValue('report 1.txt')).toBe('report 1.txt');
    expect(contentNameValue('/var/tmp/x.bin')).toBe('x.bin');
    expect(contentNameValue('C:\\dir\\y.bin')).toBe('y.bin');
  });
  it('percent-encodes non-ASCII and control characters, and % then too', () => {
    expect(contentNameValue('résumé%.txt')).toBe('r%C3%A9sum%C3%A9%25.txt');
    expect(contentNameValue('a\r\nb')).toBe('a%0D%0Ab');
  });
});
