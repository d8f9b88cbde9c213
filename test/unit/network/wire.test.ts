/**
 * The D-Bus wire format (src/network/dbus/): signatures, values, messages and the EXTERNAL
 * handshake lines. Interoperability with libdbus and GLib is in test/network/interop.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { authExternalRequest, parseAuthReply } from '../../../src/network/dbus/auth.js';
import { Writer } from '../../../src/network/dbus/marshal.js';
import { decodeMessage, encodeMessage, MESSAGE_TYPE, messageLength } from '../../../src/network/dbus/message.js';
import { type DBusValue, parseSignature, signatureOf, variant } from '../../../src/network/dbus/signature.js';
import { Reader } from '../../../src/network/dbus/unmarshal.js';
import { BitsError } from '../../../src/shared/errors.js';

function roundTrip(signature: string, values: DBusValue[]): DBusValue[] {
  const w = new Writer();
  w.writeAll(signature, values);
  return new Reader(Buffer.from(w.bytes()), true).readAll(signature);
}

describe('signatures', () => {
  it('parses complete types, containers included, and prints them back', () => {
    const sig = 'ya{sv}(uas)a(ia{ot})vgxtdnqhb';
    expect(parseSignature(sig).map(signatureOf).join('')).toBe(sig);
    expect(parseSignature('sa{sv}as').map((t) => t.code)).toEqual(['s', 'a', 'a']);
  });

  it('refuses invalid ones with E_INVALIDARG', () => {
    for (const bad of ['a', '(', '()', '(u', 'a{vs}', '{su}', 'a{s}', 'a{suu}', 'z', 'a'.repeat(33) + 'y', '('.repeat(33) + 'y' + ')'.repeat(33), 'y'.repeat(256)]) {
      expect(() => parseSignature(bad), bad).toThrow(BitsError);
    }
  });
});

describe('values', () => {
  it('aligns each type from the start of the message, padding with zeros', () => {
    const w = new Writer();
    w.writeAll('yuyty', [1, 0x01020304, 2, 5n, 3]);
    expect([...w.bytes()]).toEqual([1, 0, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('writes strings with a length and a NUL, signatures with a one-byte length, arrays with their byte length', () => {
    const w = new Writer();
    w.writeAll('sgat', ['ab', 'u', [7n]]);
    // "ab": len 2, a b NUL; "u": len 1, u NUL; pad to 4 (at 10 → 12); array len 8; pad to 8 (16); element.
    expect([...w.bytes()]).toEqual([2, 0, 0, 0, 0x61, 0x62, 0, 1, 0x75, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('an empty array still pads to its element alignment, and that padding is not counted', () => {
    const w = new Writer();
    w.writeAll('ya(tt)', [1, []]);
    expect([...w.bytes()]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(roundTrip('ya(tt)', [1, []])).toEqual([1, []]);
  });

  it('round-trips every type, variants of containers and a{sv} dicts', () => {
    const values: DBusValue[] = [
      255, true, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n), 2n ** 64n - 1n, 1.5, 3, 'hé', '/org/x', 'a{sv}',
      [['State', variant('u', 70)], ['Devices', variant('ao', ['/a', '/b'])], ['Nested', variant('a{sv}', [['k', variant('b', false)]])]],
      [1, ['x', 'y']],
      variant('v', variant('s', 'deep')),
    ];
    expect(roundTrip('ybnqiuxtdhsoga{sv}(uas)v', values)).toEqual(values);
  });

  it('refuses values that do not fit their type', () => {
    const cases: [string, DBusValue][] = [['y', 256], ['u', -1], ['i', 1.5], ['b', 1], ['s', 5], ['s', 'a\0b'], ['v', 'x'], ['(us)', [1]], ['a{sv}', 'x'], ['t', 'x']];
    for (const [sig, value] of cases) expect(() => new Writer().writeAll(sig, [value]), sig).toThrow(BitsError);
  });

  it('reads big-endian values too', () => {
    const be = Buffer.from([0x01, 0x02, 0x03, 0x04, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    expect(new Reader(be, false).readAll('unt')).toEqual([0x01020304, 5, 9n]);
  });

  it('refuses a bad boolean, non-zero padding, a string without NUL, an array past the end', () => {
    const bad: [string, number[]][] = [
      ['b', [2, 0, 0, 0]],
      ['yu', [1, 9, 0, 0, 1, 0, 0, 0]],
      ['s', [1, 0, 0, 0, 0x61, 0x62]],
      ['au', [8, 0, 0, 0, 1, 0, 0, 0]],
      ['s', [2, 0, 0, 0, 0x61]],
    ];
    for (const [sig, bytes] of bad) expect(() => new Reader(Buffer.from(bytes), true).readAll(sig), `${sig} ${bytes.join(',')}`).toThrow(BitsError);
  });
});

describe('messages', () => {
  const signal = {
    type: MESSAGE_TYPE.SIGNAL,
    path: '/org/freedesktop/NetworkManager',
    interface: 'org.freedesktop.DBus.Properties',
    member: 'PropertiesChanged',
    signature: 'sa{sv}as',
    body: ['org.freedesktop.NetworkManager', [['Metered', variant('u', 1)]], []] as DBusValue[],
  };

  it('encodes and decodes a signal with its header fields; messageLength finds its end in a stream', () => {
    const bytes = encodeMessage(signal, 42);
    expect(bytes[0]).toBe(0x6c);
    expect(messageLength(bytes.subarray(0, 15))).toBeNull();
    expect(messageLength(Buffer.concat([bytes, Buffer.from([0x6c, 1])]))).toBe(bytes.length);
    expect(decodeMessage(bytes)).toEqual({ ...signal, flags: 0, serial: 42 });
  });

  it('decodes a big-endian message built by hand', () => {
    const field = (code: number, sig: string, value: number[]): number[] => [code, 1, sig.charCodeAt(0), 0, ...value];
    const str = (text: string): number[] => [0, 0, 0, text.length, ...Buffer.from(text), 0];
    const pad = (bytes: number[], to: number): number[] => [...bytes, ...new Array<number>((to - (bytes.length % to)) % to).fill(0)];
    let fields: number[] = [];
    fields = pad([...fields, ...field(1, 'o', str('/a'))], 8);
    fields = pad([...fields, ...field(2, 's', str('b.c'))], 8);
    fields = pad([...fields, ...field(3, 's', str('D'))], 8);
    fields = [...fields, ...field(8, 'g', [1, 0x75, 0])];
    const header = [0x42, 4, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, fields.length, ...fields];
    const bytes = Buffer.from([...pad(header, 8), 1, 2, 3, 4]);
    expect(messageLength(bytes)).toBe(bytes.length);
    expect(decodeMessage(bytes)).toEqual({ type: 4, flags: 0, serial: 7, path: '/a', interface: 'b.c', member: 'D', signature: 'u', body: [0x01020304] });
  });

  it('a method call without a member, or an error without its name, is malformed', () => {
    const noMember = encodeMessage({ type: MESSAGE_TYPE.METHOD_CALL, path: '/x', signature: '', body: [] }, 1);
    expect(() => decodeMessage(noMember)).toThrow(/without path and member/);
    const noName = encodeMessage({ type: MESSAGE_TYPE.ERROR, replySerial: 1, signature: '', body: [] }, 2);
    expect(() => decodeMessage(noName)).toThrow(/without error name/);
  });

  it('a cut or corrupted message is a BitsError, never a RangeError or a hang', () => {
    const bytes = encodeMessage(signal, 9);
    for (let cut = 0; cut < bytes.length; cut++) expect(() => decodeMessage(bytes.subarray(0, Math.max(cut, 16)))).toThrow(BitsError);
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 2000; round++) {
      const copy = Buffer.from(bytes);
      for (let flips = 0; flips < 3; flips++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      try {
        const length = messageLength(copy);
        if (length === copy.length) decodeMessage(copy);
      } catch (err) {
        expect(err).toBeInstanceOf(BitsError);
      }
    }
  });
});

describe('EXTERNAL handshake lines', () => {
  it('names the uid as its decimal digits in hex, after a NUL', () => {
    expect(authExternalRequest(1000).toString('latin1')).toBe('\0AUTH EXTERNAL 31303030\r\n');
    expect(authExternalRequest(0).toString('latin1')).toBe('\0AUTH EXTERNAL 30\r\n');
  });

  it('reads OK with the server GUID, and REJECTED or anything else as a failure', () => {
    expect(parseAuthReply('OK 0123456789abcdef0123456789abcdef')).toEqual({ ok: true, guid: '0123456789abcdef0123456789abcdef' });
    expect(parseAuthReply('REJECTED DBUS_COOKIE_SHA1')).toEqual({ ok: false, reason: 'EXTERNAL rejected (the bus offers: DBUS_COOKIE_SHA1)' });
    expect(parseAuthReply('OK nothex').ok).toBe(false);
    expect(parseAuthReply('DATA').ok).toBe(false);
  });
});
