/**
 * D-Bus addresses (src/network/dbus/address.ts): which sockets bitsd tries for the system bus.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_BUS_ADDRESS, parseBusAddresses, systemBusAddress } from '../../../src/network/dbus/address.js';
import { BitsError } from '../../../src/shared/errors.js';

const paths = (text: string, env: Record<string, string> = {}): string[] => parseBusAddresses(text, env).addresses.map((a) => a.socketPath);

describe('systemBusAddress', () => {
  it('takes DBUS_SYSTEM_BUS_ADDRESS when set, else /run and then /var/run', () => {
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/tmp/bus' })).toBe('unix:path=/tmp/bus');
    expect(systemBusAddress({})).toBe(DEFAULT_SYSTEM_BUS_ADDRESS);
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: '  ' })).toBe(DEFAULT_SYSTEM_BUS_ADDRESS);
    expect(paths(DEFAULT_SYSTEM_BUS_ADDRESS)).toEqual(['/run/dbus/system_bus_socket', '/var/run/dbus/system_bus_socket']);
  });
});

describe('parseBusAddresses', () => {
  it('reads path=, abstract= (a leading NUL for net.connect) and runtime=yes', () => {
    expect(paths('unix:path=/run/dbus/system_bus_socket')).toEqual(['/run/dbus/system_bus_socket']);
    expect(paths('unix:abstract=/tmp/dbus-XyZ')).toEqual(['\0/tmp/dbus-XyZ']);
    expect(paths('unix:runtime=yes', { XDG_RUNTIME_DIR: '/run/user/1000/' })).toEqual(['/run/user/1000/bus']);
  });

  it('keeps the order of a ;-separated list and skips empty entries', () => {
    expect(paths('unix:path=/a;;unix:abstract=b;')).toEqual(['/a', '\0b']);
  });

  it('decodes %XX escapes (UTF-8 bytes) and keeps the guid', () => {
    const [only] = parseBusAddresses('unix:path=/tmp/my%20bus%3bx%c3%a9,guid=0123456789abcdef0123456789abcdef').addresses;
    expect(only?.socketPath).toBe('/tmp/my bus;xé');
    expect(only?.guid).toBe('0123456789abcdef0123456789abcdef');
    expect(only?.text).toBe('unix:path=/tmp/my%20bus%3bx%c3%a9,guid=0123456789abcdef0123456789abcdef');
  });

  it('skips, with the reason, what it cannot connect to, and keeps the rest', () => {
    const parsed = parseBusAddresses('tcp:host=localhost,port=1234;unix:tmpdir=/tmp;unix:runtime=yes;unix:runtime=no;unix:path=/ok');
    expect(parsed.addresses.map((a) => a.socketPath)).toEqual(['/ok']);
    expect(parsed.skipped).toHaveLength(4);
    expect(parsed.skipped[0]).toMatch(/tcp transport is not supported/);
    expect(parsed.skipped[1]).toMatch(/exactly one of path=/);
    expect(parsed.skipped[2]).toMatch(/XDG_RUNTIME_DIR is not set/);
    expect(parsed.skipped[3]).toMatch(/only runtime=yes/);
  });

  it('refuses text that is not address syntax, with E_INVALIDARG', () => {
    for (const bad of ['/run/dbus/system_bus_socket', ':path=/x', 'unix:path', 'unix:path=/a,path=/b', 'unix:path=/a%2', 'unix:path=/a%zz']) {
      expect(() => parseBusAddresses(bad), bad).toThrow(BitsError);
      try {
        parseBusAddresses(bad);
      } catch (err) {
        expect((err as BitsError).code).toBe('E_INVALIDARG');
      }
    }
  });

  it('an address with no usable socket parses to none (the caller says so)', () => {
    expect(parseBusAddresses('').addresses).toEqual([]);
    expect(parseBusAddresses('unix:path=').skipped).toEqual(['unix:path=: path= is empty']);
  });
});
