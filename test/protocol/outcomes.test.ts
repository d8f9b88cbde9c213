import { describe, expect, it } from 'vitest';
import { classifyAck, findOutcomeRow, OUTCOME_TABLE } from '../../src/protocol/outcomes.js';
import { PACKET_TYPES, type PacketType } from '../../src/protocol/constants.js';

const ACK = { 'bits-packet-type': 'Ack' };
const SNF = { ...ACK, 'bits-error-code': '0x8020001F', 'bits-error-context': '0x5' };
const TOO_LARGE = { ...ACK, 'bits-error-code': '0x80200020', 'bits-error-context': '0x5' };

/** One example per row: [packet, status, headers, expected action, expected HRESULT or null]. */
const EXAMPLES: Record<string, Array<[PacketType, number, Record<string, string>, string, number | null]>> = {
  'not-an-ack': [
    ['Fragment', 200, { 'bits-packet-type': 'Fragment' }, 'fatal', 0x8020001b],
    ['Close-Session', 500, { 'bits-packet-type': 'Nope' }, 'fatal', 0x8020001b],
  ],
  success: [
    ['Ping', 200, ACK, 'success', null],
    ['Create-Session', 201, { 'bits-packet-type': 'ACK' }, 'success', null],
    // Error headers on success are ignored (small servers send "0x0" or "1").
    ['Fragment', 200, { ...ACK, 'bits-error-code': '1' }, 'success', null],
    ['Close-Session', 200, ACK, 'success', null],
    ['Cancel-Session', 200, ACK, 'success', null],
  ],
  'success-not-ack': [['Create-Session', 200, {}, 'fatal', 0x8020001b]],
  'session-not-found': [
    ['Ping', 500, SNF, 'restart-session', 0x8020001f],
    ['Create-Session', 400, SNF, 'restart-session', 0x8020001f],
    ['Fragment', 500, SNF, 'restart-session', 0x8020001f],
    ['Fragment', 404, { 'bits-error-code': 'x8020001f' }, 'restart-session', 0x8020001f],
  ],
  'end-session-not-found': [
    ['Close-Session', 500, SNF, 'end-retries', 0x8020001f],
    ['Cancel-Session', 500, SNF, 'end-retries', 0x8020001f],
    // Before a 429 too: the server no longer knows the session.
    ['Cancel-Session', 429, SNF, 'end-retries', 0x8020001f],
  ],
  'rate-limited': [
    ['Fragment', 429, ACK, 'transient', 0x801901ad],
    ['Create-Session', 429, {}, 'transient', 0x801901ad],
    ['Ping', 429, { ...ACK, 'bits-error-code': '0x80070070' }, 'transient', 0x80070070],
    ['Close-Session', 429, ACK, 'transient', 0x801901ad],
    ['Cancel-Session', 429, {}, 'transient', 0x801901ad],
  ],
  'end-server-error': [
    ['Close-Session', 500, ACK, 'transient', 0x801901f4],
    ['Cancel-Session', 503, { ...ACK, 'bits-error-code': '0x80070070' }, 'transient', 0x80070070],
    ['Close-Session', 501, ACK, 'transient', 0x801901f5],
  ],
  'end-no-retry': [
    ['Close-Session', 404, ACK, 'end-retries', 0x80190194],
    ['Cancel-Session', 403, { ...ACK, 'bits-error-code': '0x80070005' }, 'end-retries', 0x80070005],
    ['Cancel-Session', 401, {}, 'end-retries', 0x80190191],
  ],
  'too-large': [
    ['Fragment', 500, TOO_LARGE, 'fatal', 0x80200020],
    ['Create-Session', 413, TOO_LARGE, 'fatal', 0x80200020],
    ['Fragment', 413, TOO_LARGE, 'fatal', 0x80200020],
  ],
  'fragment-range': [['Fragment', 416, { ...ACK, 'bits-received-content-range': '100' }, 'resume-from-range', 0x801901a0]],
  'fragment-too-large': [['Fragment', 413, ACK, 'shrink-fragment', 0x8019019d]],
  'auth-required': [
    ['Create-Session', 401, {}, 'fatal', 0x80190191],
    ['Fragment', 407, {}, 'fatal', 0x80190197],
    // The HTTP status is the whole story, whatever code came along.
    ['Ping', 401, { ...ACK, 'bits-error-code': '0x80070005' }, 'fatal', 0x80190191],
  ],
  'server-transient': [
    ['Fragment', 500, {}, 'transient', 0x801901f4],
    ['Fragment', 503, { ...ACK, 'bits-error-code': '0x80070070', 'bits-error-context': '0x7' }, 'transient', 0x80070070],
    ['Create-Session', 502, {}, 'transient', 0x801901f6],
    ['Ping', 504, {}, 'transient', 0x801901f8],
    ['Fragment', 599, {}, 'transient', 0x80190257],
    // A success HRESULT in an error Ack is meaningless: fall back to the status.
    ['Fragment', 500, { ...ACK, 'bits-error-code': '0x1' }, 'transient', 0x801901f4],
  ],
  'server-fatal': [
    ['Create-Session', 501, { ...ACK, 'bits-error-code': '0x80070005' }, 'fatal', 0x80070005],
    ['Fragment', 505, {}, 'fatal', 0x801901f9],
  ],
  'client-fatal': [
    ['Create-Session', 403, { ...ACK, 'bits-error-code': '0x80070005' }, 'fatal', 0x80070005],
    ['Create-Session', 404, ACK, 'fatal', 0x80190194],
    ['Create-Session', 409, ACK, 'fatal', 0x80190199],
    ['Fragment', 400, { ...ACK, 'bits-error-code': '0x80070057' }, 'fatal', 0x80070057],
    ['Ping', 302, {}, 'fatal', 0x8019012e],
    ['Fragment', 100, {}, 'fatal', 0x80190064],
    ['Ping', 416, {}, 'fatal', 0x801901a0],
    ['Create-Session', 413, {}, 'fatal', 0x8019019d],
  ],
  'bad-status': [
    ['Fragment', 99, {}, 'fatal', 0x8020001b],
    ['Ping', 600, {}, 'fatal', 0x8020001b],
  ],
};

describe('the outcome table', () => {
  it('has an example for every row, and every row name is unique', () => {
    const names = OUTCOME_TABLE.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(EXAMPLES).sort()).toEqual([...names].sort());
  });

  for (const row of OUTCOME_TABLE) {
    it(`row ${row.name}: ${row.why}`, () => {
      for (const [packet, status, headers, action, hresult] of EXAMPLES[row.name] ?? []) {
        const outcome = classifyAck(packet, status, headers);
        expect({ packet, status, row: outcome.row, action: outcome.action }).toEqual({ packet, status, row: row.name, action });
        expect(outcome.error?.hresult ?? null).toBe(hresult);
      }
    });
  }

  it('covers every status 0..999 for every packet type and header shape', () => {
    const shapes = [{}, ACK, SNF, TOO_LARGE, { 'bits-packet-type': 'Other' }, { ...ACK, 'bits-error-code': 'garbage' }];
    for (const packet of PACKET_TYPES) {
      for (let status = 0; status <= 999; status++) {
        for (const headers of shapes) expect(findOutcomeRow(packet, status, headers), `${packet} ${status}`).toBeDefined();
      }
    }
  });

  it('non-success outcomes always carry an error, success never does', () => {
    for (const packet of PACKET_TYPES) {
      for (const status of [100, 200, 201, 204, 301, 400, 401, 404, 413, 416, 500, 501, 503]) {
        const outcome = classifyAck(packet, status, ACK);
        expect(outcome.error === null).toBe(outcome.action === 'success');
      }
    }
  });

  it('error context: 0x7 is REMOTE_APPLICATION, otherwise REMOTE_FILE', () => {
    expect(classifyAck('Fragment', 500, { 'bits-error-context': '0x7' }).error?.context).toBe('REMOTE_APPLICATION');
    expect(classifyAck('Fragment', 500, { 'bits-error-context': '0x5' }).error?.context).toBe('REMOTE_FILE');
    expect(classifyAck('Fragment', 500, {}).error?.context).toBe('REMOTE_FILE');
    expect(classifyAck('Fragment', 500, { 'bits-error-context': 'nonsense' }).error?.context).toBe('REMOTE_FILE');
  });

  it('carries the Retry-After header as sent, for the engine to read on its clock', () => {
    expect(classifyAck('Fragment', 503, { ...ACK, 'retry-after': '120' }).error?.retryAfter).toBe('120');
    expect(classifyAck('Cancel-Session', 429, { 'retry-after': 'Sun, 01 Mar 2026 12:00:00 GMT' }).error?.retryAfter).toBe('Sun, 01 Mar 2026 12:00:00 GMT');
    expect(classifyAck('Fragment', 500, ACK).error?.retryAfter).toBeNull();
  });

  it('never throws, even on nonsense statuses and headers', () => {
    for (const status of [Number.NaN, -5, 1.5, 1e9, Number.POSITIVE_INFINITY]) {
      const outcome = classifyAck('Fragment', status, { 'bits-error-code': '\u0000' });
      expect(outcome.action).toBe('fatal');
      expect(outcome.error?.hresult).toBe(0x8020001b);
    }
  });
});
