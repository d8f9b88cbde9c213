import { describe, expect, it } from 'vitest';
import { contentRange, finalFragment, isFinalRange, parseByteCount, planFragment, rangeLength, shrinkFragmentSize } from '../../src/protocol/ranges.js';

describe('fragment planning', () => {
  it('plans from the acknowledged offset, never past the end', () => {
    expect(planFragment(0, 250, 100)).toEqual({ first: 0, last: 99 });
    expect(planFragment(100, 250, 100)).toEqual({ first: 100, last: 199 });
    expect(planFragment(200, 250, 100)).toEqual({ first: 200, last: 249 });
    expect(planFragment(250, 250, 100)).toBeNull();
    expect(planFragment(300, 250, 100)).toBeNull();
  });

  it('an exact multiple ends on a full fragment', () => {
    expect(planFragment(100, 200, 100)).toEqual({ first: 100, last: 199 });
    expect(isFinalRange({ first: 100, last: 199 }, 200)).toBe(true);
    expect(isFinalRange({ first: 0, last: 99 }, 200)).toBe(false);
  });

  it('a 0-byte file gets one empty range', () => {
    expect(planFragment(0, 0, 100)).toEqual({ first: 0, last: -1 });
    expect(rangeLength({ first: 0, last: -1 })).toBe(0);
    expect(isFinalRange({ first: 0, last: -1 }, 0)).toBe(true);
    expect(contentRange({ first: 0, last: -1 }, 0)).toBe('bytes */0');
  });

  it('1-byte file', () => {
    expect(planFragment(0, 1, 1024)).toEqual({ first: 0, last: 0 });
    expect(contentRange({ first: 0, last: 0 }, 1)).toBe('bytes 0-0/1');
  });

  it('rejects nonsense inputs with null instead of a bad range', () => {
    expect(planFragment(-1, 10, 5)).toBeNull();
    expect(planFragment(0, -1, 5)).toBeNull();
    expect(planFragment(0, 10, 0)).toBeNull();
    expect(planFragment(0.5, 10, 5)).toBeNull();
  });

  it('finalFragment ends at the last byte', () => {
    expect(finalFragment(250, 100)).toEqual({ first: 150, last: 249 });
    expect(finalFragment(50, 100)).toEqual({ first: 0, last: 49 });
    expect(finalFragment(0, 100)).toEqual({ first: 0, last: -1 });
  });

  it('shrinks by half down to the floor, then gives up', () => {
    expect(shrinkFragmentSize(1048576, 16384)).toBe(524288);
    expect(shrinkFragmentSize(20000, 16384)).toBe(16384);
    expect(shrinkFragmentSize(16384, 16384)).toBeNull();
  });

  it('parseByteCount is strict decimal', () => {
    expect(parseByteCount('213')).toBe(213);
    expect(parseByteCount(' 0 ')).toBe(0);
    for (const bad of ['', '-1', '1.5', '0x10', '1e3', '12a', '99999999999999999']) expect(parseByteCount(bad)).toBeUndefined();
  });
});
