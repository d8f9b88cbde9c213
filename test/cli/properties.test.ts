/**
 * The property verbs: each /get* in text, /rawreturn and --json form, each /set* with its
 * confirmation line, its --json document and the value read back, and their argument errors.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTime } from '../../src/cli/format.js';
import { waitFor } from '../helpers/temp.js';
import { CliHarness, TIME } from './helpers.js';

let h: CliHarness;
let id: string;

beforeEach(async () => {
  h = await CliHarness.open();
  id = await h.create('props');
});

afterEach(async () => {
  await h.close();
});

/** Text, raw and JSON of one getter. */
async function get(verb: string): Promise<{ text: string; raw: string; json: Record<string, unknown> }> {
  return { text: await h.ok([verb, id]), raw: await h.ok(['/rawreturn', verb, id]), json: (await h.json([verb, id])).doc };
}

describe('getters on a new job', () => {
  it.each([
    ['/getstate', 'SUSPENDED', { state: 'SUSPENDED' }],
    ['/gettype', 'DOWNLOAD', { type: 'DOWNLOAD' }],
    ['/getbytestotal', '0', { bytesTotal: 0 }],
    ['/getbytestransferred', '0', { bytesTransferred: 0 }],
    ['/getfilestotal', '0', { filesTotal: 0 }],
    ['/getfilestransferred', '0', { filesTransferred: 0 }],
    ['/getcompletiontime', 'UNKNOWN', { transferCompletionTime: null }],
    ['/geterrorcount', '0', { errorCount: 0 }],
    ['/getdisplayname', 'props', { displayName: 'props' }],
    ['/getdescription', '', { description: '' }],
    ['/getpriority', 'NORMAL', { priority: 'NORMAL' }],
    ['/getnotifyflags', '3', { notifyFlags: 3 }],
    ['/getnotifycmdline', 'none', { notifyCmdLine: { program: null, parameters: null } }],
    ['/getminretrydelay', '600', { minRetryDelay: 600 }],
    ['/getnoprogresstimeout', '1209600', { noProgressTimeout: 1_209_600 }],
    ['/getmaxdownloadtime', '7776000', { maxDownloadTime: 7_776_000 }],
    ['/getproxyusage', 'PRECONFIG', { proxyUsage: 'PRECONFIG' }],
    ['/getproxylist', 'NULL', { proxyList: null }],
    ['/getproxybypasslist', 'NULL', { proxyBypassList: null }],
    ['/getcustomheaders', 'NULL', { customHeaders: null }],
    ['/getsecurityflags', '0x0', { securityFlags: 0 }],
    ['/gethttpmethod', 'GET', { httpMethod: 'GET' }],
    ['/getclientcertificate', 'NULL', { clientCertificate: null }],
  ])('%s prints %j', async (verb, text, json) => {
    const r = await get(verb);
    expect(r.text).toBe(`${text}\n`);
    expect(r.raw).toBe(text);
    expect(r.json).toEqual(json);
  });

  it('/getowner prints the owner; /getcreationtime and /getmodificationtime bitsadmin-style, ISO in JSON', async () => {
    const owner = await (await h.mgr.getJob(id)).getOwner();
    expect((await get('/getowner')).json).toEqual({ owner });
    expect(await h.ok(['/getowner', id])).toBe(`${owner}\n`);
    const times = await (await h.mgr.getJob(id)).getTimes();
    for (const [verb, key, date] of [
      ['/getcreationtime', 'creationTime', times.creationTime],
      ['/getmodificationtime', 'modificationTime', times.modificationTime],
    ] as const) {
      const r = await get(verb);
      expect(r.raw).toMatch(TIME);
      expect(r.raw).toBe(formatTime(date.toISOString()));
      expect(r.json).toEqual({ [key]: date.toISOString() });
    }
  });

  it('/getbytestotal is UNKNOWN (null in JSON) while a file size is unknown', async () => {
    await h.ok(['/addfile', id, await h.source('s', 'abc'), join(h.out, 's')]);
    const r = await get('/getbytestotal');
    expect(r.text).toBe('UNKNOWN\n');
    expect(r.json).toEqual({ bytesTotal: null });
    expect((await get('/getfilestotal')).raw).toBe('1');
  });

  it('progress and completion time after a transfer', async () => {
    await h.ok(['/addfile', id, await h.source('s', 'abcdef'), join(h.out, 's')]);
    await h.ok(['/resume', id]);
    await waitFor(async () => (await h.ok(['/rawreturn', '/getstate', id])) === 'TRANSFERRED');
    expect((await get('/getbytestotal')).raw).toBe('6');
    expect((await get('/getbytestransferred')).json).toEqual({ bytesTransferred: 6 });
    expect((await get('/getfilestransferred')).text).toBe('1\n');
    const done = await get('/getcompletiontime');
    expect(done.raw).toMatch(TIME);
    expect(done.json.transferCompletionTime).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
  });
});

describe('time format', () => {
  it('is M/D/YYYY h:mm:ss AM|PM in local time', () => {
    const noon = new Date(2024, 2, 5, 12, 7, 9);
    const midnight = new Date(2024, 11, 25, 0, 0, 1);
    const evening = new Date(2024, 0, 1, 23, 59, 59);
    expect(formatTime(noon.toISOString())).toBe('3/5/2024 12:07:09 PM');
    expect(formatTime(midnight.toISOString())).toBe('12/25/2024 12:00:01 AM');
    expect(formatTime(evening.toISOString())).toBe('1/1/2024 11:59:59 PM');
    expect(formatTime(null)).toBe('UNKNOWN');
  });
});

describe('setters', () => {
  it.each([
    [['/setdisplayname', 'renamed'], 'Display name set to renamed.', { displayName: 'renamed' }, '/getdisplayname', 'renamed'],
    [['/setdescription', 'a longer text'], 'Description set to a longer text.', { description: 'a longer text' }, '/getdescription', 'a longer text'],
    [['/setpriority', 'high'], 'Priority set to HIGH.', { priority: 'HIGH' }, '/getpriority', 'HIGH'],
    [['/setpriority', 'FOREGROUND'], 'Priority set to FOREGROUND.', { priority: 'FOREGROUND' }, '/getpriority', 'FOREGROUND'],
    [['/setnotifyflags', '0x1B'], 'Notification flags set to 27.', { notifyFlags: 27 }, '/getnotifyflags', '27'],
    [['/setnotifyflags', '1'], 'Notification flags set to 1.', { notifyFlags: 1 }, '/getnotifyflags', '1'],
    [['/setminretrydelay', '60'], 'Minimum retry delay set to 60.', { minRetryDelay: 60 }, '/getminretrydelay', '60'],
    [['/setminretrydelay', '1'], 'Minimum retry delay set to 5.', { minRetryDelay: 5 }, '/getminretrydelay', '5'],
    [['/setnoprogresstimeout', '0'], 'No progress timeout set to 0.', { noProgressTimeout: 0 }, '/getnoprogresstimeout', '0'],
    [['/setmaxdownloadtime', '3600'], 'Maximum download time set to 3600.', { maxDownloadTime: 3600 }, '/getmaxdownloadtime', '3600'],
  ] as const)('%j', async (argv, text, json, getVerb, after) => {
    const [verb, ...rest] = argv;
    expect(await h.ok([verb, id, ...rest])).toBe(`${text}\n`);
    expect(await h.ok(['/rawreturn', getVerb, id])).toBe(after);
    // The same call with --json: { id, <property> }.
    expect((await h.json([verb, id, ...rest])).doc).toEqual({ id, ...json });
  });

  it('/setnotifycmdline sets PROGRAM and PARAMETERS, NULL clears; PARAMETERS without PROGRAM is a usage error', async () => {
    expect(await h.ok(['/setnotifycmdline', id, '/bin/echo', 'echo done'])).toBe("Notification command line set to '/bin/echo' 'echo done'.\n");
    expect(await h.ok(['/getnotifycmdline', id])).toBe("'/bin/echo' 'echo done'\n");
    expect((await h.json(['/getnotifycmdline', id])).doc).toEqual({ notifyCmdLine: { program: '/bin/echo', parameters: 'echo done' } });
    expect(await h.ok(['/setnotifycmdline', id, '/bin/true'])).toBe("Notification command line set to '/bin/true' NULL.\n");
    expect((await h.json(['/setnotifycmdline', id, '/bin/true', 'NULL'])).doc).toEqual({ id, notifyCmdLine: { program: '/bin/true', parameters: null } });
    expect(await h.ok(['/setnotifycmdline', id, 'NULL', 'NULL'])).toBe('Notification command line cleared.\n');
    expect(await h.ok(['/getnotifycmdline', id])).toBe('none\n');
    const bad = await h.run(['/setnotifycmdline', id, 'NULL', 'args']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PARAMETERS need a PROGRAM');
    const relative = await h.run(['/setnotifycmdline', id, 'echo']);
    expect(relative.code).toBe(1);
    expect(relative.stderr).toContain('0x80070057 E_INVALIDARG');
    expect(relative.stderr).toContain('is relative');
  });

  it('bad values: a priority, a number, a notify flag bit, a too long name', async () => {
    const prio = await h.run(['/setpriority', id, 'urgent']);
    expect(prio.code).toBe(2);
    expect(prio.stderr).toBe(
      'ERROR: 0x80070057 E_INVALIDARG - The parameter is incorrect. (The priority must be one of FOREGROUND, HIGH, NORMAL, LOW; got "urgent".)\nUsage: bitsadmin /setpriority JOB FOREGROUND|HIGH|NORMAL|LOW\n',
    );
    for (const value of ['ten', '-1', '1.5', '0x', '4294967296']) {
      const r = await h.run(['/setminretrydelay', id, value]);
      expect(r.code, value).toBe(2);
      expect(r.stderr, value).toMatch(/SECONDS must be/);
    }
    const flags = await h.run(['/setnotifyflags', id, '0x40']);
    expect(flags.code).toBe(1);
    expect(flags.stderr).toMatch(/^ERROR: 0x80004001 E_NOTIMPL - The method is not implemented\. \(Unknown notify flag bits 0x40/);
    const long = await h.json(['/setdisplayname', id, 'x'.repeat(257)]);
    expect(long.code).toBe(1);
    expect(long.doc).toMatchObject({ error: { code: 'BG_E_STRING_TOO_LONG', hresult: 0x80200021 } });
    const missing = await h.run(['/setdescription', id]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Usage: bitsadmin /setdescription JOB DESCRIPTION');
    const extra = await h.run(['/getstate', id, 'more']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected "more"');
  });

  it('setters on a cancelled job: BG_E_NOT_FOUND, because it left the queue', async () => {
    const job = await h.mgr.getJob(id);
    await job.cancel();
    const r = await h.run(['/setpriority', id, 'LOW']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BG_E_NOT_FOUND');
  });
});
