/**
 * Which proxy, if any, a request to `target` goes through. Pure: settings and environment in,
 * decision out.
 *
 * - NO_PROXY: direct.
 * - PRECONFIG: the Linux equivalent of "the user's IE/WinHTTP settings" is the conventional
 *   environment: http_proxy / https_proxy (lower case first, as curl and undici read them, then
 *   upper case) and no_proxy / NO_PROXY. There is no implicit bypass of loopback: as with curl,
 *   list it in NO_PROXY.
 * - AUTODETECT: WPAD has no Linux counterpart bitsd can rely on, so it behaves as PRECONFIG.
 * - OVERRIDE: the job's list, space (or ';') delimited entries `[proto=][proto://]host[:port]`. An
 *   entry with `proto=` serves only that URL scheme; the first scheme-specific match wins, else the
 *   first generic entry; no match means direct. `proto://` is the proxy's own scheme (http or https).
 *   Bypass list: `<local>` (host names without a dot, and loopback), host patterns with `*`
 *   wildcards (typically leading: `*.corp.example`), optionally with `:port`.
 *
 * An unusable entry throws the fatal BG_E_INVALID_PROXY_INFO: BITS detects a bad proxy only when
 * the job runs (bits-api.md, SetProxySettings).
 */
import { isLoopbackHost } from '../shared/hosts.js';
import type { ProxySettings } from '../job/types.js';
import { BitsError } from '../shared/errors.js';

export type ProxyDecision = { readonly kind: 'direct' } | { readonly kind: 'proxy'; readonly uri: string };

export type Env = Readonly<Record<string, string | undefined>>;

const DIRECT: ProxyDecision = { kind: 'direct' };

function invalidProxy(text: string, why: string): BitsError {
  return new BitsError('BG_E_INVALID_PROXY_INFO', `Proxy "${text}" is not usable: ${why}.`, {
    context: 'GENERAL_TRANSPORT',
    transient: false,
  });
}

/** Normalises one proxy address ("host:port", "http://host", "https://h:1") to an origin URL. */
export function parseProxyAddress(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalidProxy(text, 'not a host[:port] or URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidProxy(text, `scheme ${url.protocol} is not supported (http and https only)`);
  }
  if (url.hostname === '') throw invalidProxy(text, 'no host');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw invalidProxy(text, 'a proxy address has no path');
  }
  const auth = url.username === '' ? '' : `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
  return `${url.protocol}//${auth}${url.host}`;
}

function bareHost(hostname: string): string {
  // URL.hostname keeps IPv6 brackets; patterns are written without them.
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function defaultPort(url: URL): string {
  return url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
}

function globMatch(pattern: string, host: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i').test(host);
}

/** Whether `target` matches one OVERRIDE bypass entry. */
function matchesBypassEntry(entry: string, target: URL): boolean {
  const host = bareHost(target.hostname);
  if (entry.toLowerCase() === '<local>') return (!host.includes('.') && !host.includes(':')) || isLoopbackHost(host);
  let pattern = entry.replace(/^[a-z]+:\/\//i, '');
  let port: string | undefined;
  const m = /^([^:]+|\[[^\]]+\]):(\d+|\*)$/.exec(pattern);
  if (m && m[1] !== undefined) {
    pattern = m[1];
    port = m[2];
  }
  if (port !== undefined && port !== '*' && port !== defaultPort(target)) return false;
  return globMatch(bareHost(pattern), host);
}

/** no_proxy semantics (curl's): "*", host, .domain or domain suffix, optional :port, comma/space separated. */
function matchesNoProxy(list: string, target: URL): boolean {
  const host = bareHost(target.hostname);
  for (const raw of list.split(/[\s,]+/)) {
    const item = raw.trim().toLowerCase();
    if (item === '') continue;
    if (item === '*') return true;
    let name = item;
    const m = /^(.+):(\d+)$/.exec(item);
    if (m && m[1] !== undefined && !m[1].includes(':')) {
      if (m[2] !== defaultPort(target)) continue;
      name = m[1];
    }
    name = bareHost(name.replace(/^\*?\./, '.'));
    if (name.startsWith('.')) {
      if (host.endsWith(name) || host === name.slice(1)) return true;
    } else if (host === name || host.endsWith(`.${name}`)) {
      return true;
    }
  }
  return false;
}

function envValue(env: Env, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function fromEnvironment(target: URL, env: Env): ProxyDecision {
  const scheme = target.protocol === 'https:' ? 'https_proxy' : 'http_proxy';
  const proxy = envValue(env, scheme);
  if (proxy === undefined) return DIRECT;
  const noProxy = envValue(env, 'no_proxy');
  if (noProxy !== undefined && matchesNoProxy(noProxy, target)) return DIRECT;
  return { kind: 'proxy', uri: parseProxyAddress(proxy) };
}

function fromOverride(target: URL, settings: ProxySettings): ProxyDecision {
  const list = settings.proxyList?.trim() ?? '';
  if (list === '') throw invalidProxy('', 'OVERRIDE needs a proxy list');
  const scheme = target.protocol.replace(/:$/, '').toLowerCase();
  let generic: string | undefined;
  let specific: string | undefined;
  for (const entry of list.split(/[\s;]+/)) {
    if (entry === '') continue;
    const eq = /^([a-z]+)=(.*)$/i.exec(entry);
    if (eq && eq[1] !== undefined && eq[2] !== undefined) {
      if (eq[2] === '') throw invalidProxy(entry, 'no host after "="');
      const address = parseProxyAddress(eq[2]);
      if (eq[1].toLowerCase() === scheme && specific === undefined) specific = address;
    } else {
      const address = parseProxyAddress(entry);
      generic ??= address;
    }
  }
  const chosen = specific ?? generic;
  if (chosen === undefined) return DIRECT;
  for (const entry of (settings.bypassList ?? '').split(/[\s;,]+/)) {
    if (entry !== '' && matchesBypassEntry(entry, target)) return DIRECT;
  }
  return { kind: 'proxy', uri: chosen };
}

export function resolveProxy(target: URL, settings: ProxySettings, env: Env): ProxyDecision {
  switch (settings.usage) {
    case 'NO_PROXY':
      return DIRECT;
    case 'OVERRIDE':
      return fromOverride(target, settings);
    case 'PRECONFIG':
    case 'AUTODETECT':
      return fromEnvironment(target, env);
  }
}
