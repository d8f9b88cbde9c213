/**
 * D-Bus server addresses (the D-Bus specification, "Server Addresses"): which sockets to try for
 * the system bus. Pure: the environment is passed in.
 *
 * An address is `transport:key=value,key=value`, several of them separated by `;`, tried in
 * order. Values may escape any byte as %XX. bitsd connects to unix sockets only: `path=` (a
 * file), `abstract=` (Linux's abstract namespace) and `runtime=yes` ($XDG_RUNTIME_DIR/bus);
 * other transports (tcp, unixexec, launchd, ...) are reported as skipped, not refused, so a list
 * that also names a unix socket still works.
 */
import { BitsError } from '../../shared/errors.js';

/** One unix socket to try. */
export interface UnixBusAddress {
  /** The socket's path for net.connect; an abstract name starts with "\0". */
  readonly socketPath: string;
  /** The address as written, for logs. */
  readonly text: string;
  /** The server's GUID when the address names one (checked against the server's OK). */
  readonly guid: string | null;
}

export interface ParsedBusAddresses {
  readonly addresses: readonly UnixBusAddress[];
  /** Entries bitsd cannot use, with the reason. */
  readonly skipped: readonly string[];
}

/** libdbus's built-in system bus address; /var/run is /run on current systems, but not on all. */
export const DEFAULT_SYSTEM_BUS_ADDRESS = 'unix:path=/run/dbus/system_bus_socket;unix:path=/var/run/dbus/system_bus_socket';

/** The system bus address: DBUS_SYSTEM_BUS_ADDRESS when set and not empty, else the default. */
export function systemBusAddress(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env['DBUS_SYSTEM_BUS_ADDRESS'];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv : DEFAULT_SYSTEM_BUS_ADDRESS;
}

/** Bytes that may appear unescaped in a value (the specification's "optionally escaped" set). */
const PLAIN = /^[-0-9A-Za-z_/.\\*]$/;

/**
 * Parses an address list. Throws E_INVALIDARG when the text is not address syntax (no
 * transport, a key without `=`, a bad escape); a well-formed entry bitsd cannot use is skipped.
 */
export function parseBusAddresses(text: string, env: Readonly<Record<string, string | undefined>> = {}): ParsedBusAddresses {
  const addresses: UnixBusAddress[] = [];
  const skipped: string[] = [];
  for (const entry of text.split(';')) {
    if (entry.trim() === '') continue;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new BitsError('E_INVALIDARG', `D-Bus address "${entry}" has no transport (expected "unix:path=...")`);
    const transport = entry.slice(0, colon);
    const keys = parseKeys(entry, entry.slice(colon + 1));
    if (transport !== 'unix') {
      skipped.push(`${entry}: the ${transport} transport is not supported (unix sockets only)`);
      continue;
    }
    const socketPath = unixSocketPath(keys, env);
    if (typeof socketPath !== 'string') {
      skipped.push(`${entry}: ${socketPath.reason}`);
      continue;
    }
    addresses.push({ socketPath, text: entry, guid: keys.get('guid') ?? null });
  }
  return { addresses, skipped };
}

function parseKeys(entry: string, list: string): Map<string, string> {
  const keys = new Map<string, string>();
  if (list === '') return keys;
  for (const pair of list.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BitsError('E_INVALIDARG', `D-Bus address "${entry}": "${pair}" is not key=value`);
    const key = pair.slice(0, eq);
    if (keys.has(key)) throw new BitsError('E_INVALIDARG', `D-Bus address "${entry}": key "${key}" is given twice`);
    keys.set(key, unescapeValue(entry, pair.slice(eq + 1)));
  }
  return keys;
}

/** Decodes %XX escapes; the bytes are read as UTF-8, as Node's paths are. */
export function unescapeValue(entry: string, value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new BitsError('E_INVALIDARG', `D-Bus address "${entry}": bad escape "%${hex}"`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PLAIN.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      // Not allowed unescaped by the specification, but libdbus accepts any byte here too;
      // so does bitsd (a path with a space written by hand should still work).
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function unixSocketPath(keys: ReadonlyMap<string, string>, env: Readonly<Record<string, string | undefined>>): string | { reason: string } {
  const path = keys.get('path');
  const abstract = keys.get('abstract');
  const runtime = keys.get('runtime');
  const given = [path, abstract, runtime].filter((v) => v !== undefined).length;
  if (given !== 1) return { reason: 'a unix address needs exactly one of path=, abstract= or runtime=yes' };
  if (path !== undefined) return path === '' ? { reason: 'path= is empty' } : path;
  if (abstract !== undefined) return `\0${abstract}`;
  if (runtime !== 'yes') return { reason: `runtime=${runtime ?? ''} (only runtime=yes is defined)` };
  const dir = env['XDG_RUNTIME_DIR'];
  return dir === undefined || dir === '' ? { reason: 'runtime=yes but XDG_RUNTIME_DIR is not set' } : `${dir.replace(/\/+$/, '')}/bus`;
}
