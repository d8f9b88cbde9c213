/**
 * Text from jobs is untrusted: display names, descriptions, local names, server messages may hold
 * newlines and terminal escape sequences. bitsadmin's text output shows them escaped (one job stays
 * one /list line, no escape reaches the terminal); --json keeps them exact. Write-only custom
 * headers appear nowhere, in any output.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/format.js';
import { waitFor } from '../helpers/temp.js';
import { CliHarness } from './helpers.js';

let h: CliHarness;

beforeEach(async () => {
  h = await CliHarness.open();
});

afterEach(async () => {
  await h.close();
});

/** C0 controls other than the line breaks and tabs bitsadmin's own layout uses, DEL and C1. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

const EVIL_NAME = "evil\n{00000000-0000-0000-0000-000000000000} 'fake' TRANSFERRED 1 / 1 1 / 1\u001b[2J\u009b31m\r\u0007";
const EVIL_NAME_SHOWN = "evil\\n{00000000-0000-0000-0000-000000000000} 'fake' TRANSFERRED 1 / 1 1 / 1\\x1b[2J\\u009b31m\\r\\x07";

describe('printable', () => {
  it('escapes C0, DEL and C1 controls and nothing else', () => {
    expect(printable('a\tb\nc\rd\u0000e\u001bf\u007fg\u0080h\u009bi\u00a0j\\k é ✓')).toBe('a\\tb\\nc\\rd\\x00e\\x1bf\\x7fg\\u0080h\\u009bi\u00a0j\\k é ✓');
  });
});

describe('text output escapes what jobs hold; --json keeps it exact', () => {
  it('/list: one line per job whatever its name; /list --json exact', async () => {
    const a = await h.create(EVIL_NAME);
    const b = await h.create('plain');
    const text = await h.ok(['/list']);
    expect(text).toBe(`${a} '${EVIL_NAME_SHOWN}' SUSPENDED 0 / 0 0 / 0\n${b} 'plain' SUSPENDED 0 / 0 0 / 0\n\nListed 2 job(s).\n`);
    expect(text).not.toMatch(RAW_CONTROL);
    const { doc } = await h.json(['/list']);
    expect((doc.jobs as Array<{ displayName: string }>).map((j) => j.displayName)).toEqual([EVIL_NAME, 'plain']);
  });

  it('/info /verbose, /list /verbose and the getters: names, descriptions, paths and headers escaped', async () => {
    const id = await h.create(EVIL_NAME);
    const description = 'line one\nDESCRIPTION: forged\u001b]0;title\u0007';
    await h.ok(['/setdescription', id, description]);
    const local = join(h.out, 'out\n\u001b[31mred.bin');
    await h.ok(['/addfile', id, await h.source('s', 'abc'), local]);
    await h.ok(['/setcustomheaders', id, 'X-Note: a\tb']);
    for (const argv of [['/info', id, '/verbose'], ['/list', '/verbose'], ['/info', id]]) {
      const text = await h.ok(argv);
      expect(text, argv.join(' ')).not.toMatch(RAW_CONTROL);
      expect(text).toContain(`DISPLAY: '${EVIL_NAME_SHOWN}'`);
      if (argv.includes('/verbose')) {
        expect(text).toContain('DESCRIPTION: line one\\nDESCRIPTION: forged\\x1b]0;title\\x07\n');
        expect(text).toContain(`-> ${join(h.out, 'out\\n\\x1b[31mred.bin')}\n`);
        expect(text).toContain('CUSTOM HEADERS: X-Note: a\\tb\n');
        // Every line of the block is one of bitsadmin's lines: none was forged by a value.
        expect(text.split('\n').filter((l) => l.startsWith('DESCRIPTION:'))).toHaveLength(1);
      }
    }
    expect(await h.ok(['/getdisplayname', id])).toBe(`${EVIL_NAME_SHOWN}\n`);
    expect(await h.ok(['/rawreturn', '/getdescription', id])).toBe('line one\\nDESCRIPTION: forged\\x1b]0;title\\x07');
    expect(await h.ok(['/listfiles', id])).not.toMatch(RAW_CONTROL);
    expect(await h.ok(['/setdisplayname', id, 'x\u001b[0m'])).toBe('Display name set to x\\x1b[0m.\n');
    const { doc } = await h.json(['/info', id, '/verbose']);
    expect(doc).toMatchObject({ displayName: 'x\u001b[0m', description, files: [{ localName: local }], customHeaders: ['X-Note: a\tb'] });
    expect((await h.json(['/getdescription', id])).doc).toEqual({ description });
  });

  it('an error naming a hostile local name: /geterror and /info escape it; stderr messages too', async () => {
    const id = await h.create('e');
    const local = join(h.out, 'x\n\u009b1m.bin');
    await h.ok(['/addfile', id, pathToFileURL(join(h.dir, 'missing.bin')).href, local]);
    await h.ok(['/resume', id]);
    await waitFor(async () => (await h.ok(['/rawreturn', '/getstate', id])) === 'ERROR', 10_000, 'ERROR');
    const text = await h.ok(['/geterror', id]);
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toContain(`-> ${join(h.out, 'x\\n\\u009b1m.bin')}\n`);
    expect(((await h.json(['/geterror', id])).doc.error as { file: { localName: string } }).file.localName).toBe(local);
    // A refused command quotes what it refused: on stderr, escaped; in the --json document, exact.
    const refused = await h.run(['/info', 'no such\u001b[2J\njob']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toMatch(RAW_CONTROL);
    expect(refused.stderr).toContain("No job named 'no such\\x1b[2J\\njob'");
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    const json = await h.json(['/info', 'no such\u001b[2J\njob']);
    expect((json.doc.error as { message: string }).message).toContain("'no such\u001b[2J\njob'");
  });
});

describe('write-only custom headers', () => {
  it('their values appear in no output: /info, /list /verbose, --json, /getcustomheaders, the set confirmation', async () => {
    const secret = 'sk-live-k3y';
    const id = await h.create('w');
    const set = await h.json(['/setcustomheaders', id, `X-Api-Key: ${secret}`, 'X-Trace: 1']);
    expect(set.doc).toEqual({ id, customHeaders: ['X-Api-Key: [REDACTED]', 'X-Trace: [REDACTED]'] });
    await h.ok(['/makecustomheaderswriteonly', id]);
    const outputs = [
      await h.run(['/info', id, '/verbose']),
      await h.run(['/list', '/verbose']),
      await h.run(['--json', '/info', id]),
      await h.run(['--json', '/list', '/verbose']),
      await h.run(['/getcustomheaders', id]),
      await h.run(['--json', '/getcustomheaders', id]),
      await h.run(['/rawreturn', '/getcustomheaders', id]),
    ];
    for (const r of outputs) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    expect(outputs[0]?.stdout).toContain('CUSTOM HEADERS: (write-only)\n');
    expect(outputs[4]?.code).toBe(1);
    // Still sent: the job keeps them.
    expect((await (await h.mgr.getJob(id)).getCustomHeaders().catch((err: { code: string }) => err.code))).toBe('E_ACCESSDENIED');
  });
});
