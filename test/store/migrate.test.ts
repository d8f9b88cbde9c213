import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { defaultMigrationsDir, migrate, readMigrations } from '../../src/store/migrate.js';
import { DATABASE_FILE, JobStore } from '../../src/store/job-store.js';
import { tempDir } from '../helpers/temp.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const SNAPSHOT = join(root, 'test/store/schema.sql');

describe('migrations', () => {
  it('a fresh database gets every migration, with checksums and user_version', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: join(dir, 'data'), now: 1 });
    const applied = store.appliedMigrations();
    expect(applied.map((m) => m.name)).toEqual(['0001_init.sql', '0002_inactivity_sweep.sql', '0003_file_intents.sql', '0004_network.sql', '0005_synced_offsets.sql']);
    expect(applied[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(store.userVersion()).toBe(5);
    store.close();
  });

  it('re-running is a no-op', async () => {
    const dir = await tempDir();
    JobStore.open({ dataDir: dir, now: 1 }).close();
    const again = JobStore.open({ dataDir: dir, now: 2 });
    expect(again.appliedMigrations()).toHaveLength(5);
    again.close();
  });

  it('several runners at once (separate processes) all succeed and apply each file once', async () => {
    const dir = await tempDir();
    const child = join(root, 'dist/test/fixtures/open-store.js');
    const results = await Promise.all([1, 2, 3, 4].map(() => run(process.execPath, [child, dir])));
    for (const r of results) expect(r.stdout.trim()).toBe('5');
    const store = JobStore.open({ dataDir: dir, now: 3 });
    expect(store.appliedMigrations()).toHaveLength(5);
    store.close();
  });

  it('a database at an older version gets the newer files applied, in order, once', async () => {
    const dir = await tempDir();
    const old = join(dir, 'old-migrations');
    await cp(join(defaultMigrationsDir(), '0001_init.sql'), join(old, '0001_init.sql'));
    // A database left by a bitsd that knew only 0001 (this bitsd's statements need the newer
    // columns, so the old one is made with the migration runner alone).
    await mkdir(join(dir, 'data'));
    const v1 = new Database(join(dir, 'data', DATABASE_FILE));
    migrate(v1, readMigrations(old), 1);
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    expect(v1.prepare("SELECT name FROM sqlite_schema WHERE name = 'jobs_live_modified'").get()).toBeDefined();
    v1.close();
    const v2 = JobStore.open({ dataDir: join(dir, 'data'), now: 2 });
    expect(v2.userVersion()).toBe(5);
    expect(v2.appliedMigrations().map((m) => m.name)).toEqual(['0001_init.sql', '0002_inactivity_sweep.sql', '0003_file_intents.sql', '0004_network.sql', '0005_synced_offsets.sql']);
    expect(v2.schemaSql()).not.toContain('jobs_live_modified');
    v2.close();
  });

  it('0005: offsets recorded before it (all flushed first) count as synced, with no boot', async () => {
    const dir = await tempDir();
    const old = join(dir, 'old-migrations');
    for (const name of ['0001_init.sql', '0002_inactivity_sweep.sql', '0003_file_intents.sql', '0004_network.sql']) {
      await cp(join(defaultMigrationsDir(), name), join(old, name));
    }
    await mkdir(join(dir, 'data'));
    const v4 = new Database(join(dir, 'data', DATABASE_FILE));
    migrate(v4, readMigrations(old), 1);
    const id = '{00000000-0000-4000-8000-000000000005}';
    v4.prepare(
      `INSERT INTO jobs (id, type, state, display_name, owner, priority, notify_flags, min_retry_delay_sec, no_progress_timeout_sec,
         max_download_time_sec, proxy_usage, cost_flags, created_at, modified_at, reply_url, reply_temp_name, reply_bytes_total, reply_bytes_transferred)
       VALUES (?, 'UPLOAD_REPLY', 'SUSPENDED', 'old', 'uid:0', 2, 3, 600, 1209600, 0, 'PRECONFIG', 0, 1, 1, 'http://h/r', '/tmp/BITR.tmp', 900, 700)`,
    ).run(id);
    v4.prepare("INSERT INTO files (job_id, idx, remote_name, local_name, temp_name, bytes_total, bytes_transferred) VALUES (?, 0, 'http://h/u', '/tmp/u', '/tmp/BITU.tmp', 5000, 4096)").run(id);
    v4.close();
    const v5 = JobStore.open({ dataDir: join(dir, 'data'), now: 2 });
    expect(v5.getFiles(id)[0]).toMatchObject({ bytesTransferred: 4096, syncedBytes: 4096, bootId: null });
    expect(v5.getJob(id)).toMatchObject({ replyBytesTransferred: 700, replySyncedBytes: 700, replyBootId: null });
    // So a start-up in any boot keeps them.
    expect(v5.fallBackToSyncedOffsets('another-boot')).toEqual({ files: 0, replies: 0 });
    v5.close();
  });

  it('refuses to start when an applied migration was edited, naming the file', async () => {
    const dir = await tempDir();
    const migrations = join(dir, 'migrations');
    await cp(defaultMigrationsDir(), migrations, { recursive: true });
    JobStore.open({ dataDir: join(dir, 'data'), now: 1, migrationsDir: migrations }).close();
    const file = join(migrations, '0001_init.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited\n`);
    expect(() => JobStore.open({ dataDir: join(dir, 'data'), now: 2, migrationsDir: migrations })).toThrowError(/0001_init\.sql was edited/);
  });

  it('refuses a database newer than the code', async () => {
    const dir = await tempDir();
    const migrations = join(dir, 'migrations');
    await cp(defaultMigrationsDir(), migrations, { recursive: true });
    const known = readMigrations(defaultMigrationsDir()).length;
    const future = String(known + 1).padStart(4, '0');
    await writeFile(join(migrations, `${future}_future.sql`), 'CREATE TABLE future (x INTEGER);');
    JobStore.open({ dataDir: join(dir, 'data'), now: 1, migrationsDir: migrations }).close();
    expect(() => JobStore.open({ dataDir: join(dir, 'data'), now: 2 })).toThrowError(new RegExp(`schema version ${known + 1} .*newer than this bitsd knows \\(${known}\\)`));
  });

  it('refuses badly named or out-of-sequence files', async () => {
    const dir = await tempDir();
    const migrations = join(dir, 'migrations');
    await cp(defaultMigrationsDir(), migrations, { recursive: true });
    const gap = String(readMigrations(defaultMigrationsDir()).length + 2).padStart(4, '0');
    await writeFile(join(migrations, `${gap}_gap.sql`), 'SELECT 1;');
    expect(() => JobStore.open({ dataDir: join(dir, 'a'), now: 1, migrationsDir: migrations })).toThrowError(new RegExp(`${gap}_gap\\.sql breaks the sequence`));
  });

  it('creates the data directory 0700 and the database 0600', async () => {
    const dir = join(await tempDir(), 'nested', 'data');
    const store = JobStore.open({ dataDir: dir, now: 1 });
    store.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, DATABASE_FILE))).mode & 0o777).toBe(0o600);
  });

  it('matches the schema snapshot (test/store/schema.sql; regenerate with UPDATE_SCHEMA=1)', async () => {
    const store = JobStore.open({ dataDir: await tempDir(), now: 1 });
    const schema = store.schemaSql();
    store.close();
    if (process.env.UPDATE_SCHEMA === '1') await writeFile(SNAPSHOT, schema);
    expect(schema).toBe(await readFile(SNAPSHOT, 'utf8'));
  });
});
