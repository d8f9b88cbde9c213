/**
 * IPC fuzzing against the real bitsd: thousands of connections opened and dropped at every stage,
 * thousands of random and malformed frames (random bytes, random JSON, requests with random
 * methods and mutated parameters, oversized frames). Afterwards the daemon is alive and answers a
 * real client. A seeded generator makes a failure reproducible (the seed is in the test name).
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { METHODS } from '../../src/ipc/methods.js';
import { tempDir } from '../helpers/temp.js';
import { rawConnect } from '../ipc/raw-client.js';
import { spawnDaemon } from './spawn.js';

const SEED = Number(process.env.BITSD_FUZZ_SEED ?? 0x5eed);

/** mulberry32: small, fast, seeded. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHOD_NAMES = Object.keys(METHODS);

function fuzzer(seed: number) {
  const r = rng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const value = (depth: number): unknown => {
    switch (int(depth > 3 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return r() < 0.5;
      case 2:
        return pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 0xffffffff, 1e308]);
      case 3:
        return pick(['', 'x', 'DOWNLOAD', 'FOREGROUND', 'COST_FLAGS', '/tmp/x', 'http://127.0.0.1:9/x', '{00000000-0000-0000-0000-000000000000}', '\u0000', '☃'.repeat(int(50))]);
      case 4:
        return 'z'.repeat(int(20_000));
      case 5:
        return `{${Array.from({ length: 8 }, () => int(16).toString(16)).join('')}-0000-0000-0000-000000000000}`;
      case 6:
        return Array.from({ length: int(5) }, () => value(depth + 1));
      case 7:
      case 8:
        return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(['job', 'index', 'name', 'value', 'events', '__proto__', 'constructor', `k${int(9)}`]), value(depth + 1)]));
      default:
        return undefined;
    }
  };
  /** Params shaped like the method's (right names), with random values and sometimes extra keys. */
  const params = (method: string): unknown => {
    const spec = Object.hasOwn(METHODS, method) ? (METHODS as Record<string, { params: Record<string, unknown> }>)[method] : undefined;
    if (!spec || r() < 0.2) return value(0);
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(spec.params)) if (r() < 0.9) out[name] = name === 'job' && r() < 0.5 ? value(4) : value(1);
    if (r() < 0.1) out.extra = 1;
    return out;
  };
  const frame = (id: number): string => {
    switch (int(10)) {
      case 0: // random bytes, newlines included
        return Buffer.from(Array.from({ length: int(200) }, () => int(256))).toString('latin1');
      case 1: // truncated or broken JSON
        return pick(['{', '{"type":"request"', '[1,2', '{"type":"request","id":1,"method":"manager.enumJobs"', 'nul', '{"a":1}}', '\u0000\u0001']);
      case 2: // any JSON value
        return JSON.stringify(value(0)) ?? 'null';
      case 3: // deep nesting
        return `${'['.repeat(5000)}${']'.repeat(5000)}`;
      default: {
        const method = r() < 0.85 ? pick(METHOD_NAMES) : pick(['job.nope', 'toString', '__proto__', '', 'manager.close', 'events.subscribe']);
        const id2 = r() < 0.9 ? id : value(2);
        return JSON.stringify({ type: r() < 0.95 ? 'request' : pick(['hello', 'event', 'response']), id: id2, method, params: params(method) });
      }
    }
  };
  return { int, pick, frame, r };
}

describe('IPC fuzzing against bitsd', () => {
  it(`survives random and malformed frames and churned connections (seed ${SEED})`, { timeout: 60_000 }, async () => {
    const dir = await tempDir('bitsd-fuzz-');
    const daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock') });
    const f = fuzzer(SEED);
    const started = Date.now();

    // 1. Churn: 2000 connections opened and dropped at every stage of a conversation.
    const stages = ['connect', 'half-hello', 'hello', 'garbage', 'half-request', 'request'] as const;
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const stage = f.pick(stages);
          const socket = connect({ path: daemon.socket });
          socket.on('error', () => undefined);
          await new Promise<void>((resolve) => {
            socket.once('connect', resolve);
            socket.once('error', () => resolve());
          });
          if (stage === 'half-hello') socket.write('{"type":"hel');
          if (stage === 'garbage') socket.write(f.frame(1));
          if (stage === 'hello' || stage === 'half-request' || stage === 'request') socket.write('{"type":"hello","version":1}\n');
          if (stage === 'half-request') socket.write('{"type":"request","id":1,"method":"manager.enumJ');
          if (stage === 'request') socket.write('{"type":"request","id":1,"method":"manager.enumJobs"}\n');
          socket.destroy();
        }),
      );
    }

    // 2. Frames: 25 connections × 200 frames after hello. A connection may be closed by the
    //    daemon (oversized or unframeable input); every request on one that stays open is answered.
    let answered = 0;
    let sent = 0;
    await Promise.all(
      Array.from({ length: 25 }, async (_, n) => {
        const c = await rawConnect(daemon.socket);
        expect(await c.hello()).toMatchObject({ ok: true });
        const lines: string[] = [];
        for (let i = 0; i < 200; i++) lines.push(f.frame(i + 1));
        if (n % 8 === 0) lines.push(`"${'x'.repeat(5 * 1024 * 1024)}"`); // over the 4 MiB frame limit
        c.send(`${lines.join('\n')}\n`);
        sent += lines.length;
        // A final request with a fresh id: the connection is either closed, or answers it.
        const probe = await c.request(1_000_000 + n, 'manager.getErrorDescription', { hresult: 0 }).catch(() => null);
        if (probe) {
          expect(probe).toMatchObject({ ok: true, result: 'The operation completed successfully.' });
          answered++;
        } else {
          expect(c.isClosed()).toBe(true);
        }
        c.socket.destroy();
      }),
    );
    expect(sent).toBeGreaterThan(5000);
    expect(answered).toBeGreaterThan(0);

    // 3. The daemon is alive and serves a real client normally.
    expect(daemon.child.exitCode).toBeNull();
    const client = await BitsClient.connect({ socket: daemon.socket });
    const job = await client.createJob('after the storm', 'DOWNLOAD');
    expect(await job.getState()).toBe('SUSPENDED');
    expect((await client.getJob(job.id)).id).toBe(job.id);
    await job.cancel();
    await client.close();
    expect(daemon.logs().filter((l) => l.level === 'error')).toEqual([]);
    const exit = await daemon.stop();
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
