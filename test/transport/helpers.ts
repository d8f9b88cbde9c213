/**
 * Loopback fixtures for transport and download tests: an HTTP server on 127.0.0.1:0 that counts
 * its sockets, a tiny forward/CONNECT proxy, and self-signed / CA-signed certificates made with the
 * openssl CLI at test time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(server: http.Server | https.Server, scheme: 'http' | 'https'): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const result = {
    url: '',
    port: 0,
    connections: 0,
    close: async (): Promise<void> => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (socket: net.Socket) => {
    result.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  result.port = address.port;
  result.url = `${scheme}://127.0.0.1:${address.port}`;
  return result;
}

export function startServer(handler: Handler): Promise<TestServer> {
  return listen(http.createServer(handler), 'http');
}

export function startHttpsServer(cert: string, key: string, handler: Handler): Promise<TestServer> {
  return listen(https.createServer({ cert, key }, handler), 'https');
}

/** A port that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestProxy extends TestServer {
  /** "GET http://127.0.0.1:1234/x" or "CONNECT 127.0.0.1:1234", in order. */
  readonly requests: string[];
  /** Proxy-Authorization values seen (undefined when absent). */
  readonly authorizations: (string | undefined)[];
}

/**
 * A forward proxy (absolute-URI requests) and CONNECT tunnel, loopback targets only. With
 * `requireAuth`, requests without that exact Proxy-Authorization get 407.
 */
export async function startProxy(requireAuth?: string): Promise<TestProxy> {
  const requests: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const denied = (auth: string | undefined): boolean => requireAuth !== undefined && auth !== requireAuth;
  const server = http.createServer((req, res) => {
    const auth = req.headers['proxy-authorization'];
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    authorizations.push(auth);
    if (denied(auth)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"', 'content-length': '0' });
      res.end();
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: '127.0.0.1', port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const auth = req.headers['proxy-authorization'];
    requests.push(`CONNECT ${req.url ?? ''}`);
    authorizations.push(auth);
    if (denied(auth)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const base = await listen(server, 'http');
  return Object.assign(base, { requests, authorizations });
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface TestCerts {
  readonly dir: string;
  readonly caPem: string;
  /** Self-signed, SAN IP:127.0.0.1. */
  readonly selfSigned: { cert: string; key: string };
  /** CA-signed, SAN IP:127.0.0.1. */
  readonly good: { cert: string; key: string };
  /** CA-signed for another name (SAN DNS:other.example). */
  readonly wrongName: { cert: string; key: string };
  /** CA-signed, SAN IP:127.0.0.1, already expired. */
  readonly expired: { cert: string; key: string };
  /** A client certificate (CA-signed) with its key, as files. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  cleanup(): void;
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'bitsd-certs-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const key = (name: string): void => run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  key('ca');
  run('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=bitsd test CA');
  key('self');
  writeFileSync(join(dir, 'ip.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  writeFileSync(join(dir, 'other.cnf'), 'subjectAltName=DNS:other.example\n');
  writeFileSync(join(dir, 'client.cnf'), 'extendedKeyUsage=clientAuth\n');
  run('req', '-x509', '-new', '-key', 'self.key', '-out', 'self.pem', '-days', '30', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  const signed = (name: string, ext: string, days: string): void => {
    key(name);
    run('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', days, '-extfile', ext);
  };
  signed('good', 'ip.cnf', '30');
  signed('wrong', 'other.cnf', '30');
  signed('expired', 'ip.cnf', '-1');
  signed('client', 'client.cnf', '30');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caPem: read('ca.pem'),
    selfSigned: { cert: read('self.pem'), key: read('self.key') },
    good: { cert: read('good.pem'), key: read('good.key') },
    wrongName: { cert: read('wrong.pem'), key: read('wrong.key') },
    expired: { cert: read('expired.pem'), key: read('expired.key') },
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
