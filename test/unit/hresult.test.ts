import { describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import {
  codeOf,
  contextFromValue,
  describeContext,
  describeHresult,
  ERROR_CONTEXTS,
  formatHresult,
  HRESULTS,
  httpErrorHresult,
  parseHresult,
} from '../../src/shared/hresult.js';

describe('HRESULT table', () => {
  it('has the documented values (bits-protocol.md §10)', () => {
    const expected: Record<string, number> = {
      BG_E_NOT_FOUND: 0x80200001,
      BG_E_INVALID_STATE: 0x80200002,
      BG_E_EMPTY: 0x80200003,
      BG_E_ERROR_INFORMATION_UNAVAILABLE: 0x8020000f,
      BG_E_MISSING_FILE_SIZE: 0x80200011,
      BG_E_INSUFFICIENT_RANGE_SUPPORT: 0x80200013,
      BG_S_PARTIAL_COMPLETE: 0x00200017,
      BG_S_UNABLE_TO_DELETE_FILES: 0x0020001a,
      BG_E_INVALID_SERVER_RESPONSE: 0x8020001b,
      BG_E_TOO_MANY_FILES: 0x8020001c,
      BG_E_LOCAL_FILE_CHANGED: 0x8020001d,
      BG_E_SESSION_NOT_FOUND: 0x8020001f,
      BG_E_TOO_LARGE: 0x80200020,
      BG_E_STRING_TOO_LONG: 0x80200021,
      BG_E_INVALID_RANGE: 0x8020002b,
      BG_E_OVERLAPPING_RANGES: 0x8020002c,
      BG_E_TOO_MANY_JOBS_PER_USER: 0x80200049,
      BG_E_TOO_MANY_JOBS_PER_MACHINE: 0x80200050,
      BG_E_TOO_MANY_FILES_IN_JOB: 0x80200051,
      BG_E_TOO_MANY_RANGES_IN_FILE: 0x80200052,
      BG_E_MAXDOWNLOAD_TIMEOUT: 0x80200054,
      BG_E_REMOTE_FILE_CHANGED: 0x80200073,
      E_INVALIDARG: 0x80070057,
      E_NOTIMPL: 0x80004001,
      E_ACCESSDENIED: 0x80070005,
    };
    for (const [name, value] of Object.entries(expected)) {
      expect(HRESULTS[name as keyof typeof HRESULTS].value, name).toBe(value);
    }
  });

  it('every entry has a description and a unique value', () => {
    const seen = new Map<number, string>();
    for (const [name, info] of Object.entries(HRESULTS)) {
      expect(info.description.length, name).toBeGreaterThan(5);
      expect(seen.has(info.value), `${name} duplicates ${seen.get(info.value)}`).toBe(false);
      seen.set(info.value, name);
    }
  });

  it('BG_E_HTTP_ERROR_nnn = 0x80190000 + status', () => {
    expect(httpErrorHresult(404)).toBe(0x80190194);
    expect(httpErrorHresult(503)).toBe(0x801901f7);
    expect(codeOf(0x80190194)).toBe('BG_E_HTTP_ERROR_404');
    expect(describeHresult(0x80190194)).toMatch(/does not exist/);
    expect(describeHresult(0x801901c1)).toMatch(/449|not following/);
  });

  it('looks codes up both ways and describes unknown values without failing', () => {
    expect(codeOf(0x80200002)).toBe('BG_E_INVALID_STATE');
    expect(codeOf(0x12345678)).toBeUndefined();
    expect(describeHresult(0x12345678)).toBe('Unknown error 0x12345678.');
    expect(formatHresult(0x80200002)).toBe('0x80200002');
    expect(formatHresult(-2145386494)).toBe('0x80200002');
  });

  it('parses HRESULTs leniently, as servers write them', () => {
    expect(parseHresult('0x8020001F')).toBe(0x8020001f);
    expect(parseHresult('x80070057')).toBe(0x80070057);
    expect(parseHresult('8020001f')).toBe(0x8020001f);
    expect(parseHresult('0X1')).toBe(1);
    expect(parseHresult('')).toBeUndefined();
    expect(parseHresult('0x123456789')).toBeUndefined();
    expect(parseHresult('zz')).toBeUndefined();
  });

  it('has the BG_ERROR_CONTEXT values and texts', () => {
    expect(ERROR_CONTEXTS).toMatchObject({ NONE: 0, LOCAL_FILE: 4, REMOTE_FILE: 5, GENERAL_TRANSPORT: 6, REMOTE_APPLICATION: 7 });
    expect(contextFromValue(7)).toBe('REMOTE_APPLICATION');
    expect(contextFromValue(99)).toBeUndefined();
    expect(describeContext('LOCAL_FILE')).toMatch(/local file/);
  });
});

describe('BitsError', () => {
  it('carries hresult, code, context and a message, and survives JSON', () => {
    const err = new BitsError('BG_E_INVALID_STATE', 'nope', { context: 'GENERAL_QUEUE_MANAGER' });
    expect(err.hresult).toBe(0x80200002);
    expect(err.describe()).toBe('0x80200002 BG_E_INVALID_STATE: nope');
    const back = BitsError.fromJSON(JSON.parse(JSON.stringify(err)));
    expect(back).toMatchObject({ hresult: 0x80200002, code: 'BG_E_INVALID_STATE', context: 'GENERAL_QUEUE_MANAGER', message: 'nope' });
    expect(new BitsError('BG_E_HTTP_ERROR_404').hresult).toBe(0x80190194);
    expect(new BitsError('E_FAIL').message).toBe('Unspecified error.');
  });
});

describe('BitsError over the wire', () => {
  it('keeps an HRESULT bitsd has no name for, and ignores an unknown code name', () => {
    const back = BitsError.fromJSON({ hresult: 0x80070112, context: 'REMOTE_FILE', message: 'quota' });
    expect(back).toMatchObject({ hresult: 0x80070112, code: 'E_FAIL', context: 'REMOTE_FILE', message: 'quota' });
    const odd = BitsError.fromJSON({ hresult: 0x80200002, context: 'NOT_A_CONTEXT', code: 'NOT_A_CODE' } as never);
    expect(odd).toMatchObject({ code: 'BG_E_INVALID_STATE', context: 'NONE' });
  });
});
