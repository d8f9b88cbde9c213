/**
 * The D-Bus authentication handshake (the specification's "Authentication Protocol"), with the
 * EXTERNAL mechanism only: the bus knows the caller's uid from the socket (SO_PEERCRED), and the
 * client names the same uid, as its decimal digits in hex. Lines are ASCII and end in CRLF.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';

/** The first bytes a client sends: a NUL (where credentials could be passed) and AUTH EXTERNAL. */
export function authExternalRequest(uid: number): Buffer {
  const hex = Buffer.from(String(uid), 'ascii').toString('hex');
  return Buffer.from(`\0AUTH EXTERNAL ${hex}\r\n`, 'ascii');
}

export type AuthReply = { readonly ok: true; readonly guid: string } | { readonly ok: false; readonly reason: string };

/** Reads the server's answer to AUTH. */
export function parseAuthReply(line: string): AuthReply {
  const [command, ...rest] = line.split(' ');
  if (command === 'OK') {
    const guid = rest.join(' ');
    return /^[0-9a-f]{32}$/.test(guid) ? { ok: true, guid } : { ok: false, reason: `OK with a bad GUID "${guid}"` };
  }
  if (command === 'REJECTED') return { ok: false, reason: `EXTERNAL rejected (the bus offers: ${rest.join(' ') || 'nothing'})` };
  return { ok: false, reason: `unexpected answer "${line.slice(0, 80)}"` };
}

/** A server line is short; a peer that sends more without a CRLF is not a D-Bus server. */
const MAX_LINE = 1024;

/**
 * Runs the handshake on a connected socket and sends BEGIN: from then on the socket carries
 * messages. Resolves with any bytes that came after the OK line (none from a conforming server).
 */
export function authenticate(socket: Socket, options: { uid: number; guid: string | null; clock: Clock; timeoutMs: number }): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (err: BitsError | null, rest?: Buffer): void => {
      timer.cancel();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err !== null) reject(err);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n');
      if (end < 0) {
        if (received.length > MAX_LINE) finish(authError('the bus sent an over-long line'));
        return;
      }
      const reply = parseAuthReply(received.subarray(0, end).toString('ascii'));
      if (!reply.ok) return finish(authError(reply.reason));
      if (options.guid !== null && options.guid !== reply.guid) return finish(authError(`the bus's GUID ${reply.guid} is not the address's ${options.guid}`));
      socket.write('BEGIN\r\n');
      finish(null, received.subarray(end + 2));
    };
    let socketError = '';
    // An error is followed by close, which fails the handshake; unheard, it would crash the process.
    const onError = (err: Error): void => void (socketError = `: ${err.message}`);
    const onClose = (): void => finish(authError(`the bus closed the connection during authentication${socketError}`));
    const timer = options.clock.at(options.clock.now() + options.timeoutMs, () => finish(authError(`no answer within ${options.timeoutMs} ms`)));
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.write(authExternalRequest(options.uid));
  });
}

function authError(why: string): BitsError {
  return new BitsError('E_ACCESSDENIED', `D-Bus authentication failed: ${why}`);
}
