/**
 * The HTTP option verbs (proxy, credentials, custom headers, security flags, HTTP method, client
 * certificate) and the upload-reply verbs, the latter against the reference BITS server.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BitsServer, startBitsServer } from '../../src/server/index.js';
import { waitFor } from '../helpers/temp.js';
import { CliHarness } from './helpers.js';

let h: CliHarness;
let id: string;

beforeEach(async () => {
  h = await CliHarness.open();
  id = await h.create('http');
});

afterEach(async () => {
  await h.close();
});

describe('proxy', () => {
  it('OVERRIDE with lists, read back by the three getters', async () => {
    expect(await h.ok(['/setproxysettings', id, 'override', 'proxy.example:8080', '<local>'])).toBe('Proxy usage set to OVERRIDE.\n');
    expect(await h.ok(['/getproxyusage', id])).toBe('OVERRIDE\n');
    expect(await h.ok(['/getproxylist', id])).toBe('proxy.example:8080\n');
    expect(await h.ok(['/getproxybypasslist', id])).toBe('<local>\n');
    expect((await h.json(['/getproxylist', id])).doc).toEqual({ proxyList: 'proxy.example:8080' });
    expect((await h.json(['/getproxybypasslist', id])).doc).toEqual({ proxyBypassList: '<local>' });
    expect((await h.json(['/setproxysettings', id, 'NO_PROXY'])).doc).toEqual({ id, proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null } });
    expect(await h.ok(['/rawreturn', '/getproxylist', id])).toBe('NULL');
  });

  it('errors: an unknown usage (exit 2), a list without OVERRIDE, OVERRIDE without a list (API, exit 1)', async () => {
    const usage = await h.run(['/setproxysettings', id, 'SOMETIMES']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('The proxy usage must be one of PRECONFIG, NO_PROXY, OVERRIDE, AUTODETECT');
    const list = await h.run(['/setproxysettings', id, 'NO_PROXY', 'x:1']);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain('E_INVALIDARG');
    const none = await h.run(['/setproxysettings', id, 'OVERRIDE', 'NULL']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('OVERRIDE needs a proxy list');
  });
});

describe('credentials', () => {
  it('set and remove, case-insensitive words, the password never echoed', async () => {
    const set = await h.ok(['/setcredentials', id, 'server', 'basic', 'alice', 's3cret']);
    expect(set).toBe('Credentials set for SERVER BASIC.\n');
    const json = await h.json(['/setcredentials', id, 'PROXY', 'NTLM', 'NULL', 'NULL']);
    expect(json.doc).toEqual({ id, target: 'PROXY', scheme: 'NTLM', userName: null });
    expect(JSON.stringify(json.doc)).not.toContain('s3cret');
    expect(await h.ok(['/removecredentials', id, 'SERVER', 'BASIC'])).toBe('Credentials removed for SERVER BASIC.\n');
    expect((await h.json(['/removecredentials', id, 'proxy', 'ntlm'])).doc).toEqual({ id, target: 'PROXY', scheme: 'NTLM' });
  });

  it('errors: unknown target or scheme (exit 2), BASIC without a password (API)', async () => {
    expect((await h.run(['/setcredentials', id, 'CLIENT', 'BASIC', 'u', 'p'])).stderr).toContain('The target must be one of SERVER, PROXY');
    expect((await h.run(['/removecredentials', id, 'SERVER', 'KERBEROS'])).code).toBe(2);
    const basic = await h.run(['/setcredentials', id, 'SERVER', 'BASIC', 'u', 'NULL']);
    expect(basic.code).toBe(1);
    expect(basic.stderr).toContain('BASIC credentials need both a user name and a password');
    expect((await h.run(['/setcredentials', id, 'SERVER', 'BASIC', 'u'])).code).toBe(2);
  });
});

describe('custom headers', () => {
  it('joined with CRLF, one a line when read; NULL removes; write-only hides them', async () => {
    expect(await h.ok(['/setcustomheaders', id, 'X-One: 1', 'X-Two: two words'])).toBe('Custom headers set (2).\n');
    expect(await (await h.mgr.getJob(id)).getCustomHeaders()).toBe('X-One: 1\r\nX-Two: two words\r\n');
    expect(await h.ok(['/getcustomheaders', id])).toBe('X-One: 1\nX-Two: two words\n');
    expect((await h.json(['/getcustomheaders', id])).doc).toEqual({ customHeaders: ['X-One: 1', 'X-Two: two words'] });
    // The confirmation names the headers but does not echo their values (often API keys).
    expect((await h.json(['/setcustomheaders', id, 'X-Three: 3'])).doc).toEqual({ id, customHeaders: ['X-Three: [REDACTED]'] });
    expect(await h.ok(['/setcustomheaders', id, 'NULL'])).toBe('Custom headers removed.\n');
    expect(await h.ok(['/getcustomheaders', id])).toBe('NULL\n');
    const bad = await h.run(['/setcustomheaders', id, 'no colon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not "Name: value"');

    await h.ok(['/setcustomheaders', id, 'X-Secret: 1']);
    expect(await h.ok(['/makecustomheaderswriteonly', id])).toBe('Custom headers are now write-only.\n');
    expect((await h.json(['/makecustomheaderswriteonly', id])).doc).toEqual({ id, customHeadersWriteOnly: true });
    const hidden = await h.run(['/getcustomheaders', id]);
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toMatch(/^ERROR: 0x80070005 E_ACCESSDENIED - Access is denied\. \(The custom headers of this job were made write-only\.\)/);
  });
});

describe('security flags and HTTP method', () => {
  it('/setsecurityflags takes hex or decimal and prints hex', async () => {
    expect(await h.ok(['/setsecurityflags', id, '0x103'])).toBe('Security flags set to 0x103.\n');
    expect(await h.ok(['/getsecurityflags', id])).toBe('0x103\n');
    expect((await h.json(['/getsecurityflags', id])).doc).toEqual({ securityFlags: 0x103 });
    expect((await h.json(['/setsecurityflags', id, '2048'])).doc).toEqual({ id, securityFlags: 0x800 });
    const bad = await h.run(['/setsecurityflags', id, '0x300']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('two redirect policies');
    expect((await h.run(['/setsecurityflags', id, 'lots'])).code).toBe(2);
  });

  it('/sethttpmethod before the first resume; the job becomes FOREGROUND', async () => {
    expect(await h.ok(['/sethttpmethod', id, 'POST'])).toBe('HTTP method set to POST.\n');
    expect(await h.ok(['/gethttpmethod', id])).toBe('POST\n');
    expect(await h.ok(['/getpriority', id])).toBe('FOREGROUND\n');
    expect((await h.json(['/sethttpmethod', id, 'PUT'])).doc).toEqual({ id, httpMethod: 'PUT' });
    expect((await h.json(['/gethttpmethod', id])).doc).toEqual({ httpMethod: 'PUT' });
    const bad = await h.run(['/sethttpmethod', id, 'NOT A TOKEN']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not a valid method token');
  });
});

describe('client certificate (PEM files)', () => {
  it('set with and without a key file, read back, removed', async () => {
    const cert = join(h.dir, 'client.pem');
    const key = join(h.dir, 'client.key');
    await writeFile(cert, '-----BEGIN CERTIFICATE-----\n');
    await writeFile(key, '-----BEGIN PRIVATE KEY-----\n');
    expect(await h.ok(['/setclientcertificatebyname', id, cert, key])).toBe(`Client certificate set to ${cert} KEY: ${key}.\n`);
    expect(await h.ok(['/getclientcertificate', id])).toBe(`${cert} KEY: ${key}\n`);
    expect((await h.json(['/getclientcertificate', id])).doc).toEqual({ clientCertificate: { certFile: cert, keyFile: key } });
    expect((await h.json(['/setclientcertificatebyname', id, cert])).doc).toEqual({ id, clientCertificate: { certFile: cert, keyFile: null } });
    expect(await h.ok(['/rawreturn', '/getclientcertificate', id])).toBe(cert);
    expect(await h.ok(['/removeclientcertificate', id])).toBe('Client certificate removed.\n');
    expect((await h.json(['/removeclientcertificate', id])).doc).toEqual({ id, clientCertificate: null });
    const missing = await h.run(['/setclientcertificatebyname', id, join(h.dir, 'none.pem')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Cannot read');
  });
});

describe('upload-reply', () => {
  let server: BitsServer;

  beforeEach(async () => {
    await mkdir(join(h.dir, 'srv'));
    server = await startBitsServer({ root: join(h.dir, 'srv'), replyHandler: async (uploaded) => ({ body: `got ${(await readFile(uploaded)).length} bytes` }) });
  });

  afterEach(async () => {
    await server.close();
  });

  it('/setreplyfilename, /getreplyfilename, /getreplyprogress and /getreplydata (hex; base64 in JSON)', async () => {
    const job = await h.create('up', '/upload-reply');
    const source = join(h.dir, 'payload.txt');
    await writeFile(source, 'hello, server');
    const replyFile = join(h.out, 'reply.txt');
    expect(await h.ok(['/getreplyfilename', job])).toBe('NULL\n');
    expect(await h.ok(['/setreplyfilename', job, replyFile])).toBe(`Reply file name set to ${replyFile}.\n`);
    expect((await h.json(['/getreplyfilename', job])).doc).toEqual({ replyFileName: replyFile });
    const other = join(h.out, 'other-reply.txt');
    expect(await h.json(['/setreplyfilename', job, other])).toEqual({ code: 0, doc: { id: job, replyFileName: other }, stderr: '' });
    expect(await h.ok(['/getreplyfilename', job])).toBe(`${other}\n`);
    expect((await h.json(['/setreplyfilename', job, 'null'])).doc).toEqual({ id: job, replyFileName: null });
    expect(await h.ok(['/rawreturn', '/getreplyfilename', job])).toBe('NULL');
    await h.ok(['/setreplyfilename', job, replyFile]);
    expect(await h.ok(['/getreplyprogress', job])).toBe('0 / UNKNOWN\n');
    expect((await h.json(['/getreplyprogress', job])).doc).toEqual({ replyProgress: { bytesTotal: null, bytesTransferred: 0 } });
    const early = await h.run(['/getreplydata', job]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('BG_E_INVALID_STATE');

    await h.ok(['/addfile', job, `${server.url}/up/payload.txt`, source]);
    await h.ok(['/resume', job]);
    await waitFor(async () => (await h.ok(['/rawreturn', '/getstate', job])) === 'TRANSFERRED', 15_000, 'TRANSFERRED');
    const reply = Buffer.from('got 13 bytes');
    expect(await h.ok(['/getreplyprogress', job])).toBe(`${reply.length} / ${reply.length}\n`);
    expect(await h.ok(['/getreplydata', job])).toBe(`12 byte(s) of reply data:\n0000: 67 6f 74 20 31 33 20 62 79 74 65 73              got 13 bytes\n`);
    expect(await h.ok(['/rawreturn', '/getreplydata', job])).toBe(reply.toString('hex'));
    expect((await h.json(['/getreplydata', job])).doc).toEqual({ replyData: reply.toString('base64'), length: 12 });
    await h.ok(['/complete', job]);
    expect(await readFile(replyFile, 'utf8')).toBe('got 13 bytes');
  });

  it('reply verbs on a download job: E_NOTIMPL', async () => {
    const r = await h.run(['/getreplyfilename', id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERROR: 0x80004001 E_NOTIMPL/);
    expect(await h.ok(['/setreplyfilename', await h.create('r2', '/upload-reply'), 'NULL'])).toBe('Reply file name cleared.\n');
    const set = await h.run(['--json', '/setreplyfilename', id, join(h.out, 'r')]);
    expect(set.code).toBe(1);
    expect(JSON.parse(set.stdout)).toMatchObject({ error: { code: 'E_NOTIMPL', hresult: 0x80004001 } });
  });
});
