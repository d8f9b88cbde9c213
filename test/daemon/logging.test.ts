/**
 * Logs: the structured logger (levels, JSON and logfmt, redaction of every kind of secret) and
 * the real daemon's log after a client handled credentials: no secret ever reaches stderr.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { BitsError } from '../../src/shared/errors.js';
import { createLogger, formatLine, redact, REDACTED } from '../../src/shared/logger.js';
import { tempDir } from '../helpers/temp.js';
import { spawnDaemon } from './spawn.js';

function capture(level: 'error' | 'warn' | 'info' | 'debug', format: 'json' | 'logfmt' = 'json') {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (l) => lines.push(l), now: () => new Date('2030-01-02T03:04:05.000Z') });
  return { log, lines };
}

describe('logger', () => {
  it('writes one JSON line per event, filtered by level, with time, level and msg first', () => {
    const { log, lines } = capture('info');
    log.debug('hidden');
    log.info('ready', { socket: '/run/s', pid: 7 });
    log.error('boom', { msg: 'a field named msg', level: 'x' });
    expect(lines).toEqual([
      '{"time":"2030-01-02T03:04:05.000Z","level":"info","msg":"ready","socket":"/run/s","pid":7}\n',
      '{"time":"2030-01-02T03:04:05.000Z","level":"error","msg":"boom","field.msg":"a field named msg","field.level":"x"}\n',
    ]);
    expect(log.enabled('debug')).toBe(false);
    expect(capture('error').log.enabled('warn')).toBe(false);
  });

  it('logfmt quotes what needs quoting; child loggers add fields', () => {
    const { log, lines } = capture('debug', 'logfmt');
    log.child({ conn: 3 }).warn('slow client', { queued: 1024, note: 'has "quotes" and spaces', empty: '', nested: { a: 1 } });
    expect(lines[0]).toBe('time=2030-01-02T03:04:05.000Z level=warn msg="slow client" conn=3 queued=1024 note="has \\"quotes\\" and spaces" empty="" nested="{\\"a\\":1}"\n');
    expect(formatLine('logfmt', { 'bad key': 1 })).toBe('bad_key=1\n');
  });

  it('redacts passwords, credential objects, credential headers and URL passwords, wherever they are', () => {
    const secret = 'hunter2-S3cret';
    const value = redact({
      password: secret,
      params: { credentials: { target: 'SERVER', scheme: 'BASIC', userName: 'u', password: secret } },
      headers: { Authorization: `Basic ${secret}`, 'proxy-authorization': secret, Cookie: `s=${secret}`, 'X-Fine': 'ok' },
      customHeaders: `X-A: 1\r\nAuthorization: Bearer ${secret}\r\nproxy-authorization:${secret}\r\nCookie: ${secret}`,
      url: `http://alice:${secret}@example.com/x`,
      list: [{ token: secret }, `https://bob:${secret}@h/`],
      error: new BitsError('E_ACCESSDENIED', `GET http://u:${secret}@h/ failed`),
      nothing: { password: null },
    });
    const text = JSON.stringify(value);
    expect(text).not.toContain(secret);
    expect(value).toMatchObject({
      password: REDACTED,
      params: { credentials: REDACTED },
      // Header fields keep the header names, never a value: custom headers often carry API keys.
      headers: { Authorization: REDACTED, 'proxy-authorization': REDACTED, Cookie: REDACTED, 'X-Fine': REDACTED },
      customHeaders: `X-A: ${REDACTED}\r\nAuthorization: ${REDACTED}\r\nproxy-authorization: ${REDACTED}\r\nCookie: ${REDACTED}`,
      url: `http://alice:${REDACTED}@example.com/x`,
      error: { name: 'BitsError', code: 'E_ACCESSDENIED', hresult: '0x80070005' },
      nothing: { password: null },
    });
    const { log, lines } = capture('debug');
    log.info(`connecting to http://u:${secret}@h/`, { password: secret });
    expect(lines.join('')).not.toContain(secret);
  });

  it('redacts the value of every custom header and the user:password of proxy list entries', () => {
    const secret = 'k3y-0f-the-API';
    const value = redact({
      params: { job: '{J}', headers: `X-Api-Key: ${secret}\r\nX-Trace:${secret}\r\n\r\nnot a header ${secret}\r\n` },
      customHeaders: [`X-Api-Key: ${secret}`],
      proxy: { proxyList: `http=http://u:${secret}@p1:8080;u2:${secret}@p2:3128 https://p3:443 u3:a/b@${secret}@p4`, bypassList: '<local>' },
    });
    expect(JSON.stringify(value)).not.toContain(secret);
    expect(value).toEqual({
      params: { job: '{J}', headers: `X-Api-Key: ${REDACTED}\r\nX-Trace: ${REDACTED}\r\n\r\n${REDACTED}\r\n` },
      customHeaders: [`X-Api-Key: ${REDACTED}`],
      proxy: { proxyList: `http=http://${REDACTED}@p1:8080;${REDACTED}@p2:3128 https://p3:443 ${REDACTED}@p4`, bypassList: '<local>' },
    });
  });

  it('bounds what it logs: cycles, depth, long strings, big arrays, buffers, odd values', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20; i++) deep = { deep };
    const out = redact({ cyclic, deep, long: 'x'.repeat(10_000), many: Array.from({ length: 100 }, (_, i) => i), buf: Buffer.alloc(5), big: 10n, fn: () => 1, date: new Date(0) }) as Record<string, unknown>;
    expect(out.cyclic).toEqual({ a: 1, self: '[Circular]' });
    expect(JSON.stringify(out.deep)).toContain('[...]');
    expect((out.long as string).length).toBeLessThan(4200);
    expect((out.many as unknown[]).length).toBe(51);
    expect(out.buf).toBe('<5 bytes>');
    expect(out.big).toBe('10');
    expect(out.date).toBe('1970-01-01T00:00:00.000Z');
    const { log, lines } = capture('info');
    log.info('cyclic', { cyclic });
    expect(lines).toHaveLength(1);
  });

  it('a failing writer never throws into the caller', () => {
    const log = createLogger({
      level: 'info',
      write: () => {
        throw new Error('EPIPE');
      },
    });
    expect(() => log.info('x')).not.toThrow();
  });
});

describe('the daemon log', () => {
  it('has job state lines and the debug request trail, and never a secret', async () => {
    const dir = await tempDir('bitsd-log-');
    const secret = 'pa55-W0rd-never-logged';
    const daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 's.sock'), logLevel: 'debug' });
    const client = await BitsClient.connect({ socket: daemon.socket });
    const job = await client.createJob('secretive', 'DOWNLOAD');
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: secret });
    await job.setCredentials({ target: 'PROXY', scheme: 'DIGEST', userName: 'bob', password: secret });
    await job.setCustomHeaders(`X-Trace: 1\r\nAuthorization: Bearer ${secret}\r\nCookie: sid=${secret}`);
    await job.setCustomHeaders(`X-Api-Key: ${secret}\r\n`);
    // Refused (proxy credentials belong in setCredentials), but the refused request is logged too.
    await expect(job.setProxySettings('OVERRIDE', `http://proxyuser:${secret}@127.0.0.1:3128`, null)).rejects.toMatchObject({ code: 'E_INVALIDARG' });
    await job.setProxySettings('NO_PROXY');
    // Refused (credentials belong in setCredentials), but the refused request is logged too.
    await expect(job.addFile(`http://alice:${secret}@127.0.0.1:9/file`, join(dir, 'file'))).rejects.toMatchObject({ code: 'E_INVALIDARG' });
    await job.addFile('http://127.0.0.1:9/file', join(dir, 'file'));
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 42 as unknown as string }).catch(() => undefined);
    await job.resume();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await job.cancel();
    await client.close();
    expect(await daemon.stop()).toMatchObject({ code: 0 });
    const log = daemon.stderr();
    expect(log).not.toContain(secret);
    expect(log).toContain(REDACTED);
    const lines = daemon.logs();
    expect(lines.some((l) => l.msg === 'request' && l.method === 'job.setCredentials')).toBe(true);
    // A custom header keeps its name in the request trail, never its value.
    expect(lines.filter((l) => l.msg === 'request' && l.method === 'job.setCustomHeaders').map((l) => (l.params as { headers: string }).headers)).toContain(
      `X-Api-Key: ${REDACTED}\r\n`,
    );
    expect(lines.filter((l) => l.msg === 'job state').map((l) => l.state)).toEqual(expect.arrayContaining(['QUEUED', 'CANCELLED']));
    // Every line is one JSON object with time, level and msg.
    for (const line of log.trim().split('\n')) expect(JSON.parse(line)).toMatchObject({ time: expect.any(String), level: expect.any(String), msg: expect.any(String) });
  });

  it('--log-format logfmt writes logfmt lines', async () => {
    const dir = await tempDir('bitsd-logfmt-');
    const daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 's.sock'), args: ['--log-format', 'logfmt'], waitReady: false });
    const deadline = Date.now() + 10_000;
    while (!/ msg=ready /.test(daemon.stderr()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(daemon.stderr()).toMatch(/^time=\S+ level=info msg=ready socket=\S+ dataDir=\S+ pid=\d+ version=0\.1\.0$/m);
    expect(await daemon.stop('SIGINT')).toMatchObject({ code: 0 });
  });
});
