/**
 * The HTTP options of a job: proxy, credentials, custom headers, security flags, HTTP method and
 * client certificate (a PEM certificate and key file instead of a Windows certificate store).
 */
import type { ClientCertificate } from '../../job/types.js';
import { AUTH_SCHEMES, AUTH_TARGETS, type AuthScheme, type AuthTarget, PROXY_USAGES, type ProxySettings } from '../../job/types.js';
import { redactHeaderBlock } from '../../shared/logger.js';
import { nullable, parseChoice, parseUnsigned } from '../args.js';
import { UsageError } from '../errors.js';
import { certificateText, formatFlags, nullText, printable } from '../format.js';
import { splitHeaders } from '../snapshot.js';
import type { VerbSpec } from '../types.js';
import { getter, setter } from './define.js';

const PROXY_USAGE = 'PRECONFIG|NO_PROXY|OVERRIDE|AUTODETECT';

const proxy: VerbSpec[] = [
  setter({
    name: 'setproxysettings',
    usage: `${PROXY_USAGE} [PROXY_LIST|NULL] [BYPASS_LIST|NULL]`,
    summary: 'Set the proxy: lists (space-separated "host:port" entries) only with OVERRIDE.',
    arity: [1, 3],
    parse: (rest): ProxySettings => ({
      usage: parseChoice(rest[0] as string, PROXY_USAGES, 'The proxy usage'),
      proxyList: nullable(rest[1]),
      bypassList: nullable(rest[2]),
    }),
    apply: async (j, p) => {
      await j.setProxySettings(p.usage, p.proxyList, p.bypassList);
      return p;
    },
    text: (p) => `Proxy usage set to ${p.usage}.`,
    json: (p) => ({ proxy: { usage: p.usage, proxyList: p.proxyList, bypassList: p.bypassList } }),
  }),
  getter({ name: 'getproxyusage', summary: 'Print the proxy usage.', key: 'proxyUsage', read: async (j) => (await j.getProxySettings()).usage, text: String }),
  getter({
    name: 'getproxylist',
    summary: 'Print the proxy list (NULL when none).',
    key: 'proxyList',
    read: async (j) => (await j.getProxySettings()).proxyList,
    text: nullText,
  }),
  getter({
    name: 'getproxybypasslist',
    summary: 'Print the proxy bypass list (NULL when none).',
    key: 'proxyBypassList',
    read: async (j) => (await j.getProxySettings()).bypassList,
    text: nullText,
  }),
];

const credentials: VerbSpec[] = [
  setter({
    name: 'setcredentials',
    usage: 'SERVER|PROXY BASIC|DIGEST|NTLM|NEGOTIATE|PASSPORT USER|NULL PASSWORD|NULL',
    summary: 'Set the credentials for one target and scheme (write-only: they cannot be read back).',
    arity: [4, 4],
    parse: (rest) => ({
      target: parseChoice(rest[0] as string, AUTH_TARGETS, 'The target'),
      scheme: parseChoice(rest[1] as string, AUTH_SCHEMES, 'The scheme'),
      userName: nullable(rest[2]),
      password: nullable(rest[3]),
    }),
    apply: async (j, c) => {
      await j.setCredentials(c);
      return c;
    },
    // Never echo the password.
    text: (c) => `Credentials set for ${c.target} ${c.scheme}.`,
    json: (c) => ({ target: c.target, scheme: c.scheme, userName: c.userName }),
  }),
  setter({
    name: 'removecredentials',
    usage: 'SERVER|PROXY BASIC|DIGEST|NTLM|NEGOTIATE|PASSPORT',
    summary: 'Remove the credentials of one target and scheme.',
    arity: [2, 2],
    parse: (rest): { target: AuthTarget; scheme: AuthScheme } => ({
      target: parseChoice(rest[0] as string, AUTH_TARGETS, 'The target'),
      scheme: parseChoice(rest[1] as string, AUTH_SCHEMES, 'The scheme'),
    }),
    apply: async (j, c) => {
      await j.removeCredentials(c.target, c.scheme);
      return c;
    },
    text: (c) => `Credentials removed for ${c.target} ${c.scheme}.`,
    json: (c) => ({ target: c.target, scheme: c.scheme }),
  }),
];

const headers: VerbSpec[] = [
  getter({
    name: 'getcustomheaders',
    summary: 'Print the custom headers, one a line (NULL when none).',
    key: 'customHeaders',
    read: async (j) => splitHeaders(await j.getCustomHeaders()),
    text: (lines) => (lines === null ? 'NULL' : lines.map(printable).join('\n')),
  }),
  setter({
    name: 'setcustomheaders',
    usage: '"NAME: VALUE" ["NAME: VALUE" ...] | NULL',
    summary: 'Set the headers sent with every HTTP request of the job (joined with CRLF); NULL removes them.',
    arity: [1, Number.POSITIVE_INFINITY],
    parse: (rest) => (rest.length === 1 && nullable(rest[0]) === null ? null : [...rest]),
    apply: async (j, lines) => {
      await j.setCustomHeaders(lines === null ? null : `${lines.join('\r\n')}\r\n`);
      return lines;
    },
    text: (lines) => (lines === null ? 'Custom headers removed.' : `Custom headers set (${lines.length}).`),
    // Names only, as for credentials: the values are often API keys, and the output of a script
    // ends up in logs. /getcustomheaders reads them back while they are not write-only.
    json: (lines) => ({ customHeaders: lines === null ? null : lines.map(redactHeaderBlock) }),
  }),
  setter({
    name: 'makecustomheaderswriteonly',
    usage: '',
    summary: 'Make the custom headers write-only: they keep being sent but can no longer be read (irreversible).',
    arity: [0, 0],
    parse: () => true,
    apply: async (j) => {
      await j.makeCustomHeadersWriteOnly();
      return true;
    },
    text: () => 'Custom headers are now write-only.',
    json: (customHeadersWriteOnly) => ({ customHeadersWriteOnly }),
  }),
];

const security: VerbSpec[] = [
  getter({ name: 'getsecurityflags', summary: 'Print the security flags (hex).', key: 'securityFlags', read: (j) => j.getSecurityFlags(), text: formatFlags }),
  setter({
    name: 'setsecurityflags',
    usage: 'FLAGS',
    summary:
      'Set the security flags (decimal or 0x hex): 0x1 CRL check, 0x2/0x4/0x8/0x10 ignore CN/date/CA/usage, 0x100 report or 0x200 forbid redirects, 0x800 allow HTTPS to HTTP.',
    arity: [1, 1],
    parse: (rest) => parseUnsigned(rest[0] as string, 'FLAGS'),
    apply: async (j, flags) => {
      await j.setSecurityFlags(flags);
      return flags;
    },
    text: (flags) => `Security flags set to ${formatFlags(flags)}.`,
    json: (securityFlags) => ({ securityFlags }),
  }),
  getter({ name: 'gethttpmethod', summary: 'Print the HTTP method (GET unless set).', key: 'httpMethod', read: (j) => j.getHttpMethod(), text: String }),
  setter({
    name: 'sethttpmethod',
    usage: 'METHOD',
    summary: 'Use another HTTP method for the download (before the first /resume; makes the job FOREGROUND).',
    arity: [1, 1],
    parse: (rest) => rest[0] as string,
    apply: async (j, method) => {
      await j.setHttpMethod(method);
      return method;
    },
    text: (method) => `HTTP method set to ${printable(method)}.`,
    json: (httpMethod) => ({ httpMethod }),
  }),
];

const certificates: VerbSpec[] = [
  setter({
    name: 'setclientcertificatebyname',
    usage: 'CERT_PEM [KEY_PEM]',
    summary: 'Use a TLS client certificate: PEM files (absolute paths; the key may be in CERT_PEM).',
    arity: [1, 2],
    parse: (rest): ClientCertificate => {
      const certFile = rest[0] as string;
      const keyFile = nullable(rest[1]);
      if (nullable(certFile) === null) throw new UsageError('CERT_PEM must be a file; /removeclientcertificate removes the certificate.');
      return { certFile, keyFile };
    },
    apply: async (j, cert) => {
      await j.setClientCertificate(cert);
      return cert;
    },
    text: (cert) => `Client certificate set to ${certificateText(cert)}.`,
    json: (cert) => ({ clientCertificate: { certFile: cert.certFile, keyFile: cert.keyFile } }),
  }),
  getter({
    name: 'getclientcertificate',
    summary: 'Print the client certificate file (and key file), or NULL.',
    key: 'clientCertificate',
    read: (j) => j.getClientCertificate(),
    text: certificateText,
    json: (cert) => (cert === null ? null : { certFile: cert.certFile, keyFile: cert.keyFile }),
  }),
  setter({
    name: 'removeclientcertificate',
    usage: '',
    summary: 'Stop using a client certificate.',
    arity: [0, 0],
    parse: () => null,
    apply: async (j) => {
      await j.removeClientCertificate();
      return null;
    },
    text: () => 'Client certificate removed.',
    json: (clientCertificate) => ({ clientCertificate }),
  }),
];

export const httpVerbs: readonly VerbSpec[] = [...proxy, ...credentials, ...headers, ...security, ...certificates];
