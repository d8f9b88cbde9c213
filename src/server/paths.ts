/**
 * URL path → file under the server root. The URL path maps to the same relative path under
 * root; anything that could leave root (a ".." or "." segment, raw or percent-encoded, an
 * encoded slash or backslash, NUL, bad percent-encoding) is refused rather than normalised, so
 * there is exactly one spelling of every served file.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';

export type PathResult =
  | { readonly ok: true; readonly urlPath: string; readonly relPath: string; readonly absPath: string }
  | { readonly ok: false; readonly reason: string };

/** The path part of an origin-form or absolute-form request-target, query and fragment removed. */
export function targetPath(target: string): string {
  let rest = target;
  const scheme = /^https?:\/\/[^/?#]*/i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length) || '/';
  const cut = rest.search(/[?#]/);
  return cut === -1 ? rest : rest.slice(0, cut);
}

export function resolveUrlPath(root: string, target: string): PathResult {
  const urlPath = targetPath(target);
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { ok: false, reason: 'malformed percent-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, reason: 'NUL in path' };
  if (decoded.includes('\\')) return { ok: false, reason: 'backslash in path' };
  if (!decoded.startsWith('/')) return { ok: false, reason: 'path must start with /' };
  // Split after decoding, so "%2e%2e" and "%2f" are seen as the ".." and "/" they stand for.
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return { ok: false, reason: 'dot segment in path' };
  if (segments.length === 0) return { ok: false, reason: 'path names the root directory' };
  const absRoot = resolve(root);
  const absPath = resolve(absRoot, ...segments);
  const rel = relative(absRoot, absPath);
  // Defence in depth: after the checks above this cannot fail, but a path outside root is the
  // one bug this module exists to prevent.
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    return { ok: false, reason: 'path escapes the root directory' };
  }
  return { ok: true, urlPath, relPath: rel, absPath };
}

/** True when `path` is `dir` or inside it. */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
