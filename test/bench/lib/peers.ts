/**
 * The peers a benchmark run starts and stops itself, all on 127.0.0.1: nginx (from Debian's
 * nginx-light, with a private config and prefix in a temp dir; the system's nginx config is never
 * read or touched) and bits-server (this repository's binary, in its own process so it never
 * shares an event loop with the bitsd being measured). Also the tool checks for curl and aria2c.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const TOOLS = { curl: 'curl', aria2c: 'aria2', nginx: 'nginx-light' } as const;

/** Finds a program on PATH or in the sbin directories (nginx lives in /usr/sbin). */
export function which(program: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (!dir) continue;
    const path = join(dir, program);
    if (spawnSync('test', ['-x', path]).status === 0) return path;
  }
  return null;
}

/**
 * Returns the path of each tool; installs the missing ones with apt-get when running as root,
 * otherwise says how and exits.
 */
export function ensureTools(): Record<keyof typeof TOOLS, string> {
  const missing = (Object.keys(TOOLS) as Array<keyof typeof TOOLS>).filter((t) => which(t) === null);
  if (missing.length > 0) {
    const packages = missing.map((t) => TOOLS[t]);
    const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
    if (process.getuid?.() !== 0) {
      process.stderr.write(`bench: missing ${missing.join(', ')}. Install them with:\n  sudo ${command}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench: installing ${packages.join(' ')} with apt-get\n`);
    const run = spawnSync('sh', ['-c', command], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (run.status !== 0) throw new Error(`apt-get failed (${run.status}); run: ${command}`);
  }
  const found = {} as Record<keyof typeof TOOLS, string>;
  for (const t of Object.keys(TOOLS) as Array<keyof typeof TOOLS>) {
    const path = which(t);
    if (path === null) throw new Error(`${t} is still missing after apt-get`);
    found[t] = path;
  }
  return found;
}

export function toolVersion(path: string, args: readonly string[]): string {
  const out = spawnSync(path, args, { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`.split('\n')[0]?.trim() ?? '';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Peer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Stops a child we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, graceMs))) {
    child.kill('SIGKILL');
    await waitExit(child, graceMs);
  }
}

/** nginx serving `root` on 127.0.0.1, sendfile on, no access log, everything under `prefix`. */
export async function startNginx(nginx: string, root: string, prefix: string): Promise<Peer> {
  const port = await freePort();
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${join(prefix, 'client_body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  // daemon off: the master stays our child, so stopping it needs no pid-file games.
  const child = spawn(nginx, ['-c', conf, '-p', prefix], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${readLog(join(prefix, 'logs', 'error.log'))}`);
    try {
      const res = await fetch(`${url}/`, { method: 'HEAD' });
      if (res.status > 0) break;
    } catch {
      await sleep(50);
    }
  }
  return {
    url,
    pid: child.pid ?? 0,
    // SIGQUIT is nginx's graceful shutdown.
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGQUIT');
      if (!(await waitExit(child, 5000))) await stopChild(child);
    },
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The bits-server binary in its own process; resolves once it prints its URL. */
export async function startBitsServerProcess(bin: string, root: string): Promise<Peer> {
  const child = spawn(process.execPath, [bin, '--root', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`bits-server exited with ${code}: ${err}`)));
  });
  return { url, pid: child.pid ?? 0, stop: () => stopChild(child) };
}
