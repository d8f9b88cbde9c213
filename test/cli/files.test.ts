/**
 * The file verbs: /addfile, /addfileset, /addfilewithranges, /listfiles, /gettemporaryname and
 * /replaceremoteprefix, in text and --json form, with their argument errors.
 */
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFileSet, parseRanges } from '../../src/cli/verbs/files.js';
import { UsageError } from '../../src/cli/errors.js';
import { CliHarness } from './helpers.js';

let h: CliHarness;
let id: string;

beforeEach(async () => {
  h = await CliHarness.open();
  id = await h.create('files');
});

afterEach(async () => {
  await h.close();
});

describe('/addfile and /listfiles', () => {
  it('adds files in order and lists them bitsadmin-style', async () => {
    const a = await h.source('a', 'aaa');
    const b = await h.source('b', 'bb');
    expect(await h.ok(['/addfile', id, a, join(h.out, 'a')])).toBe(`Added ${a} -> ${join(h.out, 'a')} to job.\n`);
    expect((await h.json(['/addfile', id, b, join(h.out, 'b')])).doc).toEqual({ id, added: [{ remoteName: b, localName: join(h.out, 'b') }] });
    expect(await h.ok(['/listfiles', id])).toBe(`0 / UNKNOWN WORKING ${a} -> ${join(h.out, 'a')}\n0 / UNKNOWN WORKING ${b} -> ${join(h.out, 'b')}\n\nListed 2 file(s).\n`);
    expect((await h.json(['/listfiles', id])).doc).toEqual({
      files: [
        { index: 0, remoteName: a, localName: join(h.out, 'a'), bytesTotal: null, bytesTransferred: 0, completed: false },
        { index: 1, remoteName: b, localName: join(h.out, 'b'), bytesTotal: null, bytesTransferred: 0, completed: false },
      ],
    });
  });

  it('/listfiles of an empty job', async () => {
    expect(await h.ok(['/listfiles', id])).toBe('Listed 0 file(s).\n');
    expect((await h.json(['/listfiles', id])).doc).toEqual({ files: [] });
  });

  it('API rejections keep their HRESULT: relative path, unsupported protocol, missing directory', async () => {
    const rel = await h.run(['/addfile', id, await h.source('r', 'r'), 'relative.txt']);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toMatch(/^ERROR: 0x80070057 E_INVALIDARG - The parameter is incorrect\. \(.*is relative; give an absolute path\.\)\n$/);
    const ftp = await h.json(['/addfile', id, 'ftp://example.com/x', join(h.out, 'x')]);
    expect(ftp.code).toBe(1);
    expect(ftp.doc).toEqual({
      error: { hresult: 0x80070057, code: 'E_INVALIDARG', context: 'NONE', message: expect.stringContaining('unsupported protocol ftp'), description: 'The parameter is incorrect.' },
    });
    const dir = await h.run(['/addfile', id, await h.source('d', 'd'), join(h.out, 'no', 'such', 'dir')]);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain('does not exist');
  });

  it('a local path that spells a switch is still a path, and "--" forces it', async () => {
    const src = await h.source('v', 'v');
    expect((await h.run(['/info', id, '/verbose'])).code).toBe(0);
    const dashed = await h.run(['/addfile', '--', id, src, join(h.out, '--odd')]);
    expect(dashed.code).toBe(0);
    const misplaced = await h.run(['/listfiles', id, '--json']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain('--socket and --json go before the verb');
  });
});

describe('/addfileset', () => {
  it('reads "REMOTE LOCAL" lines, skipping comments and blank lines; a relative LISTFILE is found from the cwd', async () => {
    const a = await h.source('one', '1');
    const b = await h.source('two', '2');
    await writeFile(join(h.dir, 'set.txt'), `# two files\n${a} ${join(h.out, 'one')}\n\n   ${b}\t"${join(h.out, 'two words')}"\n`);
    expect(await h.ok(['/addfileset', id, 'set.txt'])).toBe('Added 2 file(s) to job.\n');
    const listed = await h.json(['/listfiles', id]);
    expect((listed.doc.files as Array<{ localName: string }>).map((f) => basename(f.localName))).toEqual(['one', 'two words']);
    await writeFile(join(h.dir, 'one.txt'), `${a} ${join(h.out, 'three')}\n`);
    expect((await h.json(['/addfileset', id, join(h.dir, 'one.txt')])).doc).toEqual({ id, added: [{ remoteName: a, localName: join(h.out, 'three') }] });
  });

  it('all or nothing: one bad line adds no file', async () => {
    const a = await h.source('one', '1');
    await writeFile(join(h.dir, 'bad.txt'), `${a} ${join(h.out, 'one')}\n${a} relative\n`);
    const r = await h.run(['/addfileset', id, 'bad.txt']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_INVALIDARG');
    expect(await h.ok(['/rawreturn', '/getfilestotal', id])).toBe('0');
  });

  it('a missing list file is a local file error; a malformed or empty one a usage error', async () => {
    const missing = await h.run(['/addfileset', id, 'nope.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ERROR: 0x80070003 ERROR_PATH_NOT_FOUND - .*Cannot read the list file/);
    await writeFile(join(h.dir, 'empty.txt'), '# nothing\n');
    const empty = await h.run(['/addfileset', id, 'empty.txt']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('lists no files');
    expect(() => parseFileSet('just-one-token\n', 'x')).toThrow(/x line 1: expected "REMOTE LOCAL"/);
  });
});

describe('/addfilewithranges', () => {
  it('parses OFFSET:LENGTH lists with eof', () => {
    expect(parseRanges('0:100,2000:100,5000:eof')).toEqual([
      { initialOffset: 0, length: 100 },
      { initialOffset: 2000, length: 100 },
      { initialOffset: 5000, length: -1 },
    ]);
    expect(parseRanges('0x10:EOF')).toEqual([{ initialOffset: 16, length: -1 }]);
    for (const bad of ['', '10', '1:2:3', 'a:1', '1:-5', '0:100,']) expect(() => parseRanges(bad), bad).toThrow(UsageError);
  });

  it('adds a ranged file; the API checks overlaps', async () => {
    const src = await h.source('r', '0123456789');
    const local = join(h.out, 'r');
    expect(await h.ok(['/addfilewithranges', id, src, local, '0:2,5:eof'])).toBe(`Added ${src} -> ${local} to job.\n`);
    const ranges = await (await (await h.mgr.getJob(id)).enumFiles())[0]?.getFileRanges();
    expect(ranges).toEqual([
      { initialOffset: 0, length: 2 },
      { initialOffset: 5, length: -1 },
    ]);
    const json = await h.json(['/addfilewithranges', id, src, join(h.out, 'r2'), '1:1']);
    expect(json.doc).toEqual({ id, added: [{ remoteName: src, localName: join(h.out, 'r2'), ranges: [{ initialOffset: 1, length: 1 }] }] });
    const overlap = await h.run(['/addfilewithranges', id, src, join(h.out, 'r3'), '0:10,5:1']);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toContain('0x8020002c BG_E_OVERLAPPING_RANGES');
    const syntax = await h.run(['/addfilewithranges', id, src, join(h.out, 'r4'), '0-10']);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain('Usage: bitsadmin /addfilewithranges JOB REMOTE LOCAL RANGELIST');
  });
});

describe('/gettemporaryname and /replaceremoteprefix', () => {
  it('prints the BIT*.tmp name of a file; an index past the end is a usage error', async () => {
    await h.ok(['/addfile', id, await h.source('t', 't'), join(h.out, 't')]);
    const text = await h.ok(['/gettemporaryname', id, '0']);
    expect(text).toMatch(new RegExp(`^${h.out}/BIT[0-9A-F]{8}\\.tmp\\n$`));
    expect(await h.ok(['/rawreturn', '/gettemporaryname', id, '0'])).toBe(text.trim());
    expect((await h.json(['/gettemporaryname', id, '0'])).doc).toEqual({ temporaryName: text.trim() });
    const past = await h.run(['/gettemporaryname', id, '1']);
    expect(past.code).toBe(2);
    expect(past.stderr).toContain('FILE_INDEX 1 does not exist');
  });

  it('rewrites matching remote names (S_OK) or reports that none matched (S_FALSE)', async () => {
    await h.ok(['/addfile', id, 'http://old.example/a', join(h.out, 'a')]);
    expect(await h.ok(['/replaceremoteprefix', id, 'http://old.example', 'https://new.example'])).toBe('Remote prefix replaced.\n');
    expect((await h.json(['/listfiles', id])).doc).toMatchObject({ files: [{ remoteName: 'https://new.example/a' }] });
    expect((await h.json(['/replaceremoteprefix', id, 'http://old.example', 'https://x.example'])).doc).toEqual({ id, result: 'S_FALSE' });
    expect(await h.ok(['/replaceremoteprefix', id, 'http://none', 'http://x'])).toBe('No remote name starts with http://none; nothing changed (S_FALSE).\n');
  });
});
