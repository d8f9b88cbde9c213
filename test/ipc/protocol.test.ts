/**
 * The pure IPC protocol: framing and its size bound, frame classification, the method table's
 * schemas (every rejection is E_INVALIDARG naming the argument), and errors across the wire.
 */
import { describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import { EVENT_NAMES, METHODS, type MethodName } from '../../src/ipc/methods.js';
import { encodeFrame, FrameDecoder, fromWireError, MAX_FRAME_BYTES, parseClientFrame, parseServerFrame, toWireError, validateParams } from '../../src/ipc/protocol.js';

const JOB = '{F28A292F-5D2B-4B7B-8209-6FB5C5823BD9}';

const SAMPLES: Record<string, unknown> = {
  job: JOB,
  index: 0,
  displayName: 'n',
  type: 'DOWNLOAD',
  id: JOB,
  allUsers: true,
  hresult: 5,
  remoteName: 'http://h/x',
  localName: '/tmp/x',
  files: [{ remoteName: 'http://h/x', localName: '/tmp/x' }],
  ranges: [{ initialOffset: 0, length: -1 }],
  oldPrefix: 'a',
  newPrefix: 'b',
  name: 'COST_FLAGS',
  text: 't',
  priority: 'LOW',
  flags: 1,
  program: null,
  parameters: null,
  seconds: 5,
  usage: 'NO_PROXY',
  proxyList: null,
  bypassList: null,
  credentials: { target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 'p' },
  target: 'SERVER',
  scheme: 'BASIC',
  headers: null,
  certificate: { certFile: '/c', keyFile: null },
  method: 'GET',
  path: null,
  value: 1,
  url: 'http://h/y',
  events: ['job:transferred'],
  subscription: 1,
};

function invalidArg(method: MethodName, params: unknown): string {
  try {
    validateParams(method, params);
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).code).toBe('E_INVALIDARG');
    return (err as BitsError).message;
  }
  throw new Error(`${method} accepted ${JSON.stringify(params)}`);
}

describe('framing', () => {
  it('encodes one compact JSON object per line; newlines inside strings are escaped', () => {
    const bytes = encodeFrame({ type: 'request', id: 1, method: 'job.setDescription', params: { job: JOB, text: 'a\nb' } });
    const text = bytes.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.indexOf('\n')).toBe(text.length - 1);
    expect(JSON.parse(text)).toMatchObject({ params: { text: 'a\nb' } });
  });

  it('reassembles frames split anywhere, including inside a UTF-8 character', () => {
    const bytes = Buffer.concat([encodeFrame({ type: 'hello', version: 1 }), encodeFrame({ type: 'request', id: 'x', method: 'manager.enumJobs', params: { name: 'ünïcødé ☃' } })]);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const decoder = new FrameDecoder();
      const out = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(out.map((l) => (l.ok ? l.value : l.error.message))).toEqual([
        { type: 'hello', version: 1 },
        { type: 'request', id: 'x', method: 'manager.enumJobs', params: { name: 'ünïcødé ☃' } },
      ]);
      expect(decoder.buffered).toBe(0);
    }
  });

  it('skips blank lines and CRLF keep-alives; malformed JSON is a non-fatal E_INVALIDARG', () => {
    const decoder = new FrameDecoder();
    const out = decoder.push(Buffer.from('\n\r\n{"a":1}\r\n{nope}\n[1,2]\n'));
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({ ok: true, value: { a: 1 } });
    expect(out[1]).toMatchObject({ ok: false, fatal: false, error: { code: 'E_INVALIDARG' } });
    expect(out[2]).toEqual({ ok: true, value: [1, 2] });
  });

  it('a frame longer than the limit is refused once, fatally, without buffering it', () => {
    const decoder = new FrameDecoder(1024);
    expect(decoder.push(Buffer.alloc(1000, 0x61))).toEqual([]);
    const out = decoder.push(Buffer.alloc(100, 0x61));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ ok: false, fatal: true, error: { code: 'E_INVALIDARG' } });
    expect(decoder.buffered).toBe(0);
    expect(decoder.push(Buffer.from('{"a":1}\n'))).toEqual([]); // stopped for good
    // Exactly at the limit is fine; the newline does not count.
    const exact = new FrameDecoder(9);
    expect(exact.push(Buffer.from('"1234567"\n'))).toEqual([{ ok: true, value: '1234567' }]);
    expect(new FrameDecoder(9).push(Buffer.from('"12345678"\n'))[0]).toMatchObject({ ok: false, fatal: true });
    expect(MAX_FRAME_BYTES).toBe(4 * 1024 * 1024);
  });
});

describe('client frames', () => {
  it('hello and requests are recognised', () => {
    expect(parseClientFrame({ type: 'hello', version: 1 })).toEqual({ kind: 'hello', version: 1 });
    expect(parseClientFrame({ type: 'request', id: 7, method: 'manager.enumJobs' })).toEqual({ kind: 'request', id: 7, method: 'manager.enumJobs', params: {} });
    expect(parseClientFrame({ type: 'request', id: 'abc', method: 'job.getState', params: { job: JOB } })).toMatchObject({ kind: 'request', id: 'abc' });
  });

  it.each([
    [null, null, /JSON object/],
    [[1], null, /JSON object/],
    ['hello', null, /JSON object/],
    [{ type: 'hello' }, null, /version/],
    [{ type: 'hello', version: '1' }, null, /version/],
    [{ type: 'shout', id: 3 }, 3, /Unknown frame type "shout"/],
    [{ type: 'request', method: 'manager.enumJobs' }, null, /request.id/],
    [{ type: 'request', id: -1, method: 'manager.enumJobs' }, null, /request.id/],
    [{ type: 'request', id: 1.5, method: 'manager.enumJobs' }, null, /request.id/],
    [{ type: 'request', id: 'x'.repeat(129), method: 'manager.enumJobs' }, null, /request.id/],
    [{ type: 'request', id: 4, method: 42 }, 4, /request.method must be a string/],
    [{ type: 'request', id: 5, method: 'manager.enumJobs', extra: 1 }, 5, /Unknown request field "extra"/],
  ])('%j is refused with E_INVALIDARG', (frame, id, message) => {
    const parsed = parseClientFrame(frame);
    expect(parsed.kind).toBe('invalid');
    if (parsed.kind !== 'invalid') return;
    expect(parsed.id).toBe(id);
    expect(parsed.error.code).toBe('E_INVALIDARG');
    expect(parsed.error.message).toMatch(message);
  });

  it('unknown methods are E_NOTIMPL, including prototype names', () => {
    for (const method of ['job.launchMissiles', 'toString', '__proto__', 'constructor', 'job.', '']) {
      const parsed = parseClientFrame({ type: 'request', id: 1, method });
      expect(parsed).toMatchObject({ kind: 'invalid', id: 1, error: { code: 'E_NOTIMPL' } });
    }
  });
});

describe('parameter schemas', () => {
  it('every method accepts a well-formed call', () => {
    for (const [method, spec] of Object.entries(METHODS)) {
      const params = Object.fromEntries(Object.keys(spec.params).map((k) => [k, SAMPLES[k]]));
      expect(() => validateParams(method as MethodName, params), method).not.toThrow();
    }
  });

  it('every required parameter of every method is checked: missing and wrongly typed', () => {
    for (const [method, spec] of Object.entries(METHODS)) {
      const valid = Object.fromEntries(Object.keys(spec.params).map((k) => [k, SAMPLES[k]]));
      for (const [name, field] of Object.entries(spec.params)) {
        if ('optional' in field) continue;
        const { [name]: _dropped, ...missing } = valid;
        expect(invalidArg(method as MethodName, missing), method).toContain(`params.${name} is missing`);
        expect(invalidArg(method as MethodName, { ...valid, [name]: { nested: true } }), method).toContain(`params.${name}`);
      }
    }
  });

  it('messages name the method, the argument and what was wrong', () => {
    expect(invalidArg('job.setPriority', { job: JOB, priority: 3 })).toBe('job.setPriority: params.priority must be a string; got 3.');
    expect(invalidArg('job.getState', { job: JOB, extra: 1 })).toMatch(/unknown field "extra"/);
    expect(invalidArg('job.getState', null)).toMatch(/params must be an object/);
    expect(invalidArg('job.getState', [JOB])).toMatch(/params must be an object.*got an array of 1/);
    expect(invalidArg('job.setNotifyCmdLine', { job: JOB, program: 5, parameters: null })).toMatch(/params.program must be a string or null; got 5/);
    expect(invalidArg('job.addFileSet', { job: JOB, files: [{ remoteName: 'x' }] })).toMatch(/params.files\[0\].localName is missing/);
    expect(invalidArg('job.addFileSet', { job: JOB, files: 'x' })).toMatch(/params.files must be an array/);
    expect(invalidArg('job.addFileWithRanges', { job: JOB, remoteName: 'a', localName: 'b', ranges: [{ initialOffset: '0', length: 1 }] })).toMatch(/ranges\[0\].initialOffset must be a number/);
    expect(invalidArg('job.setCredentials', { job: JOB, credentials: { target: 'SERVER', scheme: 'BASIC', userName: 'u' } })).toMatch(/credentials.password is missing/);
    expect(invalidArg('job.setProperty', { job: JOB, name: 'COST_FLAGS', value: { x: 1 } })).toMatch(/params.value must be a number, a boolean, a string or null/);
    expect(invalidArg('file.getProgress', { job: JOB, index: -1 })).toMatch(/params.index must be an integer from 0 to 4294967295/);
    expect(invalidArg('file.getProgress', { job: JOB, index: 0.5 })).toMatch(/params.index/);
    expect(invalidArg('events.subscribe', { events: ['job:exploded'] })).toMatch(/params.events\[0\] must be one of/);
    expect(invalidArg('events.subscribe', { events: [] })).toMatch(/params.events must hold 1-5 items/);
    expect(invalidArg('events.unsubscribe', { subscription: 0 })).toMatch(/params.subscription/);
    expect(invalidArg('manager.getErrorDescription', { hresult: 'x' })).toMatch(/params.hresult must be a number/);
    expect(invalidArg('manager.enumJobs', { allUsers: 'yes' })).toMatch(/params.allUsers must be true or false/);
    expect(invalidArg('manager.createJob', { displayName: 'x'.repeat(100), type: null })).toMatch(/params.type must be a string; got null/);
  });

  it('optional parameters may be absent but not of the wrong type', () => {
    expect(() => validateParams('job.setProxySettings', { job: JOB, usage: 'NO_PROXY' })).not.toThrow();
    expect(invalidArg('job.setProxySettings', { job: JOB, usage: 'NO_PROXY', proxyList: 7 })).toMatch(/proxyList must be a string or null/);
    expect(() => validateParams('manager.enumJobs', {})).not.toThrow();
  });

  it('subscriptions cover every callback event', () => {
    expect([...EVENT_NAMES].sort()).toEqual(['file:transferred', 'job:change', 'job:error', 'job:modification', 'job:transferred']);
  });
});

describe('errors across the wire', () => {
  it('a BitsError keeps its code, HRESULT, context and message', () => {
    const original = new BitsError('BG_E_NOT_FOUND', 'gone', { context: 'REMOTE_FILE' });
    const back = fromWireError(JSON.parse(JSON.stringify(toWireError(original))));
    expect(back).toBeInstanceOf(BitsError);
    expect(back.toJSON()).toEqual(original.toJSON());
    const http = fromWireError(toWireError(new BitsError('BG_E_HTTP_ERROR_404', 'nope')));
    expect(http.code).toBe('BG_E_HTTP_ERROR_404');
  });

  it('other exceptions become E_FAIL; malformed wire errors never throw', () => {
    expect(toWireError(new TypeError('boom'))).toMatchObject({ code: 'E_FAIL', message: 'bitsd internal error: boom' });
    expect(toWireError('text')).toMatchObject({ code: 'E_FAIL' });
    expect(fromWireError(null).code).toBe('E_FAIL');
    expect(fromWireError({ hresult: 'x' }).code).toBe('E_FAIL');
    const unknown = fromWireError({ hresult: 0x8badf00d, code: 'MADE_UP', message: 'odd' });
    expect(unknown.code).toBe('E_FAIL');
    expect(unknown.hresult).toBe(0x8badf00d); // kept by value, not collapsed into E_FAIL's
    expect(unknown.message).toBe('odd');
    expect(fromWireError({ hresult: 0x80070057, code: 'WRONG_NAME', context: 'NOT_A_CONTEXT' }).toJSON()).toMatchObject({ code: 'E_INVALIDARG', context: 'NONE' });
  });

  it('server frames are checked on the client side', () => {
    expect(parseServerFrame({ type: 'hello', ok: true, version: 1, server: 'bitsd', pid: 1 })).toMatchObject({ ok: true });
    expect(parseServerFrame({ type: 'response', id: 1, ok: true })).toEqual({ type: 'response', id: 1, ok: true, result: null });
    expect(parseServerFrame({ type: 'response', id: null, ok: false, error: { hresult: 0x80070057 } })).toMatchObject({ ok: false, error: { code: 'E_INVALIDARG' } });
    expect(parseServerFrame({ type: 'event', subscription: 1, event: 'watch', data: {} })).toMatchObject({ type: 'event' });
    expect(parseServerFrame({ type: 'end', subscription: 1 })).toEqual({ type: 'end', subscription: 1 });
    for (const bad of [null, 1, { type: 'response', id: 1 }, { type: 'event' }, { type: 'end' }, { type: 'hello', ok: true }, { type: 'nope' }]) {
      expect(parseServerFrame(bad)).toBeNull();
    }
  });
});
