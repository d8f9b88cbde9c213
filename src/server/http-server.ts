/**
 * A net.Server running the server's own HTTP/1.1 stack (http-connection.ts), with the socket
 * bookkeeping needed to close it promptly: close() stops listening and destroys every open
 * connection, including stalled ones a fault plan is holding.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, type RequestHandler, serveConnection } from './http-connection.js';

export interface HttpListenOptions extends ConnectionOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly handler: RequestHandler;
}

export interface HttpListener {
  readonly host: string;
  readonly port: number;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

export async function listenHttp(options: HttpListenOptions): Promise<HttpListener> {
  const sockets = new Set<Socket>();
  let connections = 0;
  // allowHalfOpen: a client that half-closes after its request still gets the answer; the
  // connection code ends our side itself.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, options.handler, options, ++connections);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
