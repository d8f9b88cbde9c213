/**
 * WriteCoalescer: a burst of frames goes out corked, in order and intact, and the socket is
 * uncorked as soon as the burst's microtasks have drained (a lone frame is not held back).
 */
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WriteCoalescer } from '../../src/ipc/write-coalescer.js';
import { tempDir } from '../helpers/temp.js';

async function socketPair(): Promise<{ server: Socket; client: Socket; close: () => Promise<void> }> {
  const path = join(await tempDir(), 's.sock');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => srv.once('connection', resolve));
  const client = connect(path);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

function readLines(socket: Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`only got: ${text}`)), 5000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const lines = text.split('\n').filter((l) => l !== '');
      if (lines.length >= count) {
        clearTimeout(timer);
        resolve(lines);
      }
    });
  });
}

describe('WriteCoalescer', () => {
  it('corks a burst, uncorks once the microtasks drain, and delivers every frame in order', async () => {
    const { server, client, close } = await socketPair();
    const out = new WriteCoalescer(server);
    const received = readLines(client, 200);
    for (let i = 0; i < 100; i++) out.write(Buffer.from(`${JSON.stringify({ i })}\n`));
    expect(server.writableCorked).toBe(1);
    // Frames written a few awaits later still join the burst.
    await Promise.resolve();
    await Promise.resolve();
    for (let i = 100; i < 200; i++) out.write(Buffer.from(`${JSON.stringify({ i })}\n`));
    expect(server.writableCorked).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.writableCorked).toBe(0);
    const lines = await received;
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await close();
  });

  it('a lone frame is written before the next macrotask', async () => {
    const { server, client, close } = await socketPair();
    const out = new WriteCoalescer(server);
    const received = readLines(client, 1);
    out.write(Buffer.from('{"alone":true}\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.writableCorked).toBe(0);
    expect(server.writableLength).toBe(0);
    expect(await received).toEqual(['{"alone":true}']);
    await close();
  });
});
