/**
 * UPLOAD_REPLY with the server's delayed-reply-URL fault (replyDelayMs: the Ack of the final
 * fragment, the one carrying BITS-Reply-URL, waits while "the server application runs"). The
 * engine waits for that Ack up to replyAckTimeoutMs (default 330 s, IIS gives the application
 * 5 min), not the ordinary per-request timeout. Past replyAckTimeoutMs the final fragment counts
 * as a timed-out request: resent at once (packetRetries), then TRANSIENT_ERROR; the retry sends
 * the final fragment again, and the server, which holds the whole file, answers with the reply
 * URL again.
 */
import { describe, expect, it } from 'vitest';
import type { ReplyHandler } from '../../../src/server/index.js';
import { FRAGMENT, SEC, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';
import type { Harness } from './helpers.js';

const reply = (text: string): ReplyHandler => async (path) => ({ body: `${text}:${path.split('/').at(-1) ?? ''}` });

/** Where each fragment the server saw started. */
const starts = (h: Harness): Array<number | undefined> =>
  packetsOf(h.server, 'fragment').map((p) => (p.range?.kind === 'range' ? p.range.first : undefined));

/** Waits (real time) until the server has answered (or given up on) every packet it received. */
async function serverIdle(h: Harness, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (h.server.packets.some((p) => p.outcome === 'pending')) {
    if (Date.now() > deadline) throw new Error('the server still has packets in progress');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('upload-reply with a delayed reply URL', () => {
  it('a delay longer than the request timeout but within replyAckTimeoutMs: the engine waits, one final fragment, the reply is right', async () => {
    const DELAY = 800;
    const h = await harness({
      engine: { requestTimeoutMs: 250 },
      server: { replyHandler: reply('answer'), faults: { replyDelayMs: DELAY } },
    });
    const data = content(3 * FRAGMENT + 5);
    const job = await h.startUpload('slow-app.bin', data, { type: 'UPLOAD_REPLY' });
    await waitState(job, 'TRANSFERRED');
    expect(await job.getErrorCount()).toBe(0);
    // Four fragments, each sent once: the waiting final Ack was not resent.
    const fragments = packetsOf(h.server, 'fragment');
    expect(starts(h)).toEqual([0, FRAGMENT, 2 * FRAGMENT, 3 * FRAGMENT]);
    expect(fragments.every((p) => p.outcome === 200)).toBe(true);
    // The delay really happened: the reply was fetched only after it.
    const final = fragments.at(-1);
    const get = h.server.requests.find((r) => r.method === 'GET');
    expect((get?.time ?? 0) - (final?.time ?? 0)).toBeGreaterThanOrEqual(DELAY - 20);
    expect((await job.getReplyData())?.toString()).toBe('answer:slow-app.bin');
    expect(await job.getReplyProgress()).toEqual({ bytesTotal: 19, bytesTransferred: 19 });
    expect(await digestOf(h.stored('slow-app.bin'))).toBe(digest(data));
    expect(h.server.stats).toMatchObject({ sessionsCreated: 1, sessionsCompleted: 1, sessionsClosed: 1 });
    expect(await job.complete()).toBe('S_OK');
  });

  it('a delay past replyAckTimeoutMs: resent, TRANSIENT_ERROR; the retry gets the reply URL again and the reply is right', async () => {
    const h = await harness({
      engine: { replyAckTimeoutMs: 300, packetRetries: 1 },
      server: { replyHandler: reply('late'), faults: { replyDelayMs: 1000 } },
    });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('too-slow.bin', data, { type: 'UPLOAD_REPLY', retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ context: 'GENERAL_TRANSPORT' });
    // The first fragment, then the final one twice (the in-exchange resend): no reply yet.
    expect(starts(h)).toEqual([0, FRAGMENT, FRAGMENT]);
    expect(await job.getReplyProgress()).toMatchObject({ bytesTransferred: 0 });
    expect(h.server.requests.filter((r) => r.method === 'GET')).toEqual([]);

    // The application gets faster; once the server is done with the abandoned answers, retry.
    h.server.setFaults({});
    await serverIdle(h);
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    const fragments = packetsOf(h.server, 'fragment');
    expect(starts(h)).toEqual([0, FRAGMENT, FRAGMENT, FRAGMENT]);
    expect(fragments.at(-1)?.outcome).toBe(200);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect((await job.getReplyData())?.toString()).toBe('late:too-slow.bin');
    expect(await digestOf(h.stored('too-slow.bin'))).toBe(digest(data));
    // The upload completed once on the server; the session was closed once.
    expect(h.server.stats).toMatchObject({ sessionsCompleted: 1, sessionsClosed: 1 });
    expect(await job.complete()).toBe('S_OK');
  });
});
