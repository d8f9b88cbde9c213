/**
 * Every integer argument is range-checked against its DWORD, 64-bit or HRESULT range, over IPC
 * (raw frames on a real socket, numbers written as the client typed them) and in process, with the
 * same HRESULT both ways; a refused value changes nothing.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import type { BackgroundCopyJob } from '../../src/api/types.js';
import { tempDir } from '../helpers/temp.js';
import { startIpcServer } from './in-process-server.js';
import { rawConnect, type RawClient } from './raw-client.js';

/** Sends a request whose params are written as raw JSON text (2^53 + 1 survives as typed). */
async function rawRequest(c: RawClient, id: number, method: string, params: string): Promise<Record<string, unknown>> {
  c.send(`{"type":"request","id":${id},"method":"${method}","params":${params}}\n`);
  return c.nextMatching((f) => f.type === 'response' && f.id === id);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BitsError) return err.code;
    throw err;
  }
  return 'S_OK';
}

interface Case {
  readonly name: string;
  readonly method: string;
  /** The params after "job", as raw JSON text. */
  readonly params: (value: string) => string;
  readonly call: (job: BackgroundCopyJob, value: number) => Promise<unknown>;
  readonly read: (job: BackgroundCopyJob) => Promise<unknown>;
  /** Values refused with E_INVALIDARG (as raw JSON text). */
  readonly bad: readonly string[];
  /** The highest accepted value, to show the range is not too tight. */
  readonly good: string;
}

const DWORD_BAD = ['4294967296', '9007199254740993', '-1', '1.5', '1e300'];

const CASES: readonly Case[] = [
  {
    name: 'notify flags',
    method: 'job.setNotifyFlags',
    params: (v) => `{"flags":${v}}`,
    call: (j, v) => j.setNotifyFlags(v),
    read: (j) => j.getNotifyFlags(),
    bad: [...DWORD_BAD, '4294967297'],
    good: '63',
  },
  {
    name: 'security flags',
    method: 'job.setSecurityFlags',
    params: (v) => `{"flags":${v}}`,
    call: (j, v) => j.setSecurityFlags(v),
    read: (j) => j.getSecurityFlags(),
    bad: [...DWORD_BAD, '4294967552'],
    good: '2079',
  },
  {
    name: 'minimum retry delay',
    method: 'job.setMinimumRetryDelay',
    params: (v) => `{"seconds":${v}}`,
    call: (j, v) => j.setMinimumRetryDelay(v),
    read: (j) => j.getMinimumRetryDelay(),
    bad: DWORD_BAD,
    good: '4294967295',
  },
  {
    name: 'no-progress timeout',
    method: 'job.setNoProgressTimeout',
    params: (v) => `{"seconds":${v}}`,
    call: (j, v) => j.setNoProgressTimeout(v),
    read: (j) => j.getNoProgressTimeout(),
    bad: DWORD_BAD,
    good: '4294967295',
  },
  {
    name: 'maximum download time',
    method: 'job.setMaximumDownloadTime',
    params: (v) => `{"seconds":${v}}`,
    call: (j, v) => j.setMaximumDownloadTime(v),
    read: (j) => j.getMaximumDownloadTime(),
    bad: DWORD_BAD,
    good: '4294967295',
  },
  {
    name: 'COST_FLAGS',
    method: 'job.setProperty',
    params: (v) => `{"name":"COST_FLAGS","value":${v}}`,
    call: (j, v) => j.setProperty('COST_FLAGS', v),
    read: (j) => j.getProperty('COST_FLAGS'),
    bad: DWORD_BAD,
    good: '4294967295',
  },
  {
    name: 'MINIMUM_NOTIFICATION_INTERVAL_MS',
    method: 'job.setProperty',
    params: (v) => `{"name":"MINIMUM_NOTIFICATION_INTERVAL_MS","value":${v}}`,
    call: (j, v) => j.setProperty('MINIMUM_NOTIFICATION_INTERVAL_MS', v),
    read: (j) => j.getProperty('MINIMUM_NOTIFICATION_INTERVAL_MS'),
    bad: DWORD_BAD,
    good: '4294967295',
  },
  {
    name: 'MAX_DOWNLOAD_SIZE (64-bit)',
    method: 'job.setProperty',
    params: (v) => `{"name":"MAX_DOWNLOAD_SIZE","value":${v}}`,
    call: (j, v) => j.setProperty('MAX_DOWNLOAD_SIZE', v),
    read: (j) => j.getProperty('MAX_DOWNLOAD_SIZE'),
    bad: ['9007199254740993', '-1', '1.5', '1e300'],
    good: '9007199254740991',
  },
];

describe('integer arguments out of range: E_INVALIDARG over IPC and in process, nothing changed', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const s = await startIpcServer(await tempDir());
      const job = await s.manager.createJob('ranges', 'DOWNLOAD');
      const before = await c.read(job);
      const client = await rawConnect(s.socket);
      await client.hello();
      let id = 1;
      for (const value of c.bad) {
        const answer = await rawRequest(client, id++, c.method, `${c.params(value).slice(0, -1)},"job":"${job.id}"}`);
        expect(answer, `${c.method} ${value} over IPC`).toMatchObject({ ok: false, error: { code: 'E_INVALIDARG' } });
        expect(await codeOf(c.call(job, JSON.parse(value) as number)), `${c.method} ${value} in process`).toBe('E_INVALIDARG');
        expect(await c.read(job)).toEqual(before);
      }
      const answer = await rawRequest(client, id++, c.method, `${c.params(c.good).slice(0, -1)},"job":"${job.id}"}`);
      expect(answer, `${c.method} ${c.good}`).toMatchObject({ ok: true });
    });
  }

  it('notify flags inside the DWORD range with unknown bits stay E_NOTIMPL', async () => {
    const s = await startIpcServer(await tempDir());
    const job = await s.manager.createJob('flags', 'DOWNLOAD');
    expect(await codeOf(job.setNotifyFlags(0x80000000))).toBe('E_NOTIMPL');
    await expect(job.setNotifyFlags(0x80000000)).rejects.toThrow(/bits 0x80000000/);
  });

  it('byte ranges: offsets and lengths are safe integers >= 0, and so is their end (BG_E_INVALID_RANGE, documented)', async () => {
    const dir = await tempDir();
    const s = await startIpcServer(dir);
    const job = await s.manager.createJob('ranges', 'DOWNLOAD');
    const client = await rawConnect(s.socket);
    await client.hello();
    const local = join(dir, 'f.bin');
    const bad = [
      '{"initialOffset":9007199254740993,"length":1}',
      '{"initialOffset":-1,"length":1}',
      '{"initialOffset":0,"length":9007199254740993}',
      '{"initialOffset":0,"length":-2}',
      '{"initialOffset":9007199254740000,"length":10000}',
    ];
    let id = 1;
    for (const range of bad) {
      const params = `{"job":"${job.id}","remoteName":"http://127.0.0.1:9/f","localName":${JSON.stringify(local)},"ranges":[${range}]}`;
      expect(await rawRequest(client, id++, 'job.addFileWithRanges', params), range).toMatchObject({ ok: false, error: { code: 'BG_E_INVALID_RANGE' } });
      const r = JSON.parse(range) as { initialOffset: number; length: number };
      expect(await codeOf(job.addFileWithRanges('http://127.0.0.1:9/f', local, [r])), range).toBe('BG_E_INVALID_RANGE');
    }
    expect(await job.enumFiles()).toEqual([]);
    await job.addFileWithRanges('http://127.0.0.1:9/f', local, [{ initialOffset: 9007199254740000, length: 991 }]);
  });

  it('getErrorDescription takes a signed or unsigned 32-bit HRESULT, nothing wider', async () => {
    const s = await startIpcServer(await tempDir());
    const client = await rawConnect(s.socket);
    await client.hello();
    const description = 'The parameter is incorrect.';
    expect(await rawRequest(client, 1, 'manager.getErrorDescription', '{"hresult":2147942487}')).toMatchObject({ ok: true, result: description });
    expect(await rawRequest(client, 2, 'manager.getErrorDescription', '{"hresult":-2147024809}')).toMatchObject({ ok: true, result: description });
    for (const [i, value] of ['4294967296', '6442450943', '-2147483649', '9007199254740993', '0.5'].entries()) {
      expect(await rawRequest(client, 10 + i, 'manager.getErrorDescription', `{"hresult":${value}}`), value).toMatchObject({ ok: false, error: { code: 'E_INVALIDARG' } });
      expect(await codeOf(s.manager.getErrorDescription(JSON.parse(value) as number)), value).toBe('E_INVALIDARG');
    }
  });

  it('a file index is a DWORD: a wider one is refused by the IPC schema', async () => {
    const s = await startIpcServer(await tempDir());
    const job = await s.manager.createJob('index', 'DOWNLOAD');
    const client = await rawConnect(s.socket);
    await client.hello();
    expect(await rawRequest(client, 1, 'file.getLocalName', `{"job":"${job.id}","index":4294967296}`)).toMatchObject({ ok: false, error: { code: 'E_INVALIDARG' } });
    expect(await rawRequest(client, 2, 'file.getLocalName', `{"job":"${job.id}","index":4294967295}`)).toMatchObject({ ok: false, error: { code: 'BG_E_NOT_FOUND' } });
  });
});
