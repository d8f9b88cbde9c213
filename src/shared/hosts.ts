/** Host names and addresses. Pure. */

/** Whether a URL's host (as URL.hostname gives it) is this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || h === '[::1]';
}
