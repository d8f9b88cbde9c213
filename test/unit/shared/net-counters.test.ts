import { describe, expect, it } from 'vitest';
import { parseNetDev } from '../../../src/shared/net-counters.js';
import { isLoopbackHost } from '../../../src/shared/hosts.js';

describe('parseNetDev', () => {
  it('reads each interface: received bytes (1st field) and transmitted bytes (9th)', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 13596086481  413090    0    0    0     0          0         0 13596086481  413090    0    0    0     0       0          0',
      '  eth0:    1000       7    0    0    0     0          0         0     2500       9    0    0    0     0       0          0',
      '  bad: x',
      '',
    ].join('\n');
    expect(parseNetDev(text)).toEqual([
      { name: 'lo', rx: 13596086481, tx: 13596086481 },
      { name: 'eth0', rx: 1000, tx: 2500 },
    ]);
  });
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', 'a.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['example.com', '10.0.0.1', '127.0.0', '[::2]', 'localhost.example'])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});
