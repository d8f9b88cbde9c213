import { describe, expect, it } from 'vitest';
import { readGetAnswer } from '../../../src/engine/download/get-answer.js';
import type { StoredRemote } from '../../../src/engine/download/remote-file.js';

const LM = 'Sun, 01 Jun 2025 12:00:00 GMT';
const known: StoredRemote = { size: 1000, lastModified: LM, etag: '"a"' };
const fromZero = { start: 0, end: null };

describe('readGetAnswer: the opening GET of a file with nothing stored', () => {
  it('a 206 with the complete length tells the size and the validators', () => {
    expect(readGetAnswer(206, { 'content-range': 'bytes 0-999/1000', etag: '"a"', 'last-modified': LM }, fromZero, null)).toEqual({
      kind: 'part',
      remote: { size: 1000, lastModified: LM, etag: '"a"' },
      start: 0,
      end: 999,
    });
    // A weak ETag validates nothing: not stored.
    expect(readGetAnswer(206, { 'content-range': 'bytes 0-9/1000', etag: 'W/"a"' }, fromZero, null)).toMatchObject({ remote: { size: 1000, lastModified: null, etag: null } });
  });

  it('an answer without the size is "unsized" (ask HEAD): a 206 with "*", a 200 without Content-Length', () => {
    expect(readGetAnswer(206, { 'content-range': 'bytes 0-9/*' }, fromZero, null)).toEqual({ kind: 'unsized' });
    expect(readGetAnswer(200, { 'accept-ranges': 'bytes' }, fromZero, null)).toEqual({ kind: 'unsized' });
  });

  it('a 200 with Content-Length is the whole file; Accept-Ranges is reported, not required here', () => {
    expect(readGetAnswer(200, { 'content-length': '1000', 'accept-ranges': 'bytes', etag: '"a"' }, fromZero, null)).toEqual({
      kind: 'whole',
      remote: { size: 1000, lastModified: null, etag: '"a"' },
      sized: true,
      acceptRanges: true,
    });
    expect(readGetAnswer(200, { 'content-length': '1000' }, fromZero, null)).toMatchObject({ kind: 'whole', acceptRanges: false });
  });

  it('a 416 gives the complete length when it has one; other statuses are the caller\'s to map', () => {
    expect(readGetAnswer(416, { 'content-range': 'bytes */0' }, fromZero, null)).toEqual({ kind: 'unsatisfiable', size: 0 });
    expect(readGetAnswer(416, {}, fromZero, null)).toEqual({ kind: 'unsatisfiable', size: null });
    // Without If-Range a 412 is about something else (a precondition in the custom headers).
    expect(readGetAnswer(412, {}, fromZero, null)).toEqual({ kind: 'refused' });
    expect(readGetAnswer(404, {}, fromZero, null)).toEqual({ kind: 'refused' });
  });

  it('a 206 of other bytes than asked for, or without a usable Content-Range, is invalid', () => {
    expect(readGetAnswer(206, {}, fromZero, null)).toMatchObject({ kind: 'invalid' });
    expect(readGetAnswer(206, { 'content-range': 'bytes 10-19/1000' }, fromZero, null)).toMatchObject({ kind: 'invalid' });
    expect(readGetAnswer(206, { 'content-range': 'bytes 0-99/1000' }, { start: 0, end: 49 }, null)).toMatchObject({ kind: 'invalid' });
  });
});

describe('readGetAnswer: a GET with the known size and validators (If-Range)', () => {
  const resume = { start: 400, end: 999 };

  it('a 206 of the known file continues; validators it does not repeat are the known ones', () => {
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-999/1000' }, resume, known)).toEqual({ kind: 'part', remote: known, start: 400, end: 999 });
    // "*" for the complete length: the known size stands, and bounds the range.
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-999/*' }, resume, known)).toMatchObject({ kind: 'part', remote: known });
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-1200/*' }, { start: 400, end: null }, known)).toMatchObject({ kind: 'invalid' });
    // A server that starts sending an ETag says nothing against the stored bytes.
    const noTag = { ...known, etag: null };
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-999/1000', etag: '"new"' }, resume, noTag)).toMatchObject({ kind: 'part', remote: { ...noTag, etag: '"new"' } });
  });

  it('another complete length or contradicting validators in a 206 mean the file changed', () => {
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-1099/1100' }, { start: 400, end: null }, known)).toEqual({ kind: 'changed' });
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-999/1000', 'last-modified': 'Mon, 02 Jun 2025 12:00:00 GMT' }, resume, known)).toEqual({ kind: 'changed' });
    expect(readGetAnswer(206, { 'content-range': 'bytes 400-999/1000', etag: '"b"' }, resume, known)).toEqual({ kind: 'changed' });
  });

  it('a 200 is the whole current version, its size from Content-Length or else the known one', () => {
    expect(readGetAnswer(200, { 'content-length': '1200', etag: '"b"', 'accept-ranges': 'bytes' }, resume, known)).toEqual({
      kind: 'whole',
      remote: { size: 1200, lastModified: null, etag: '"b"' },
      sized: true,
      acceptRanges: true,
    });
    expect(readGetAnswer(200, { etag: '"a"', 'last-modified': LM }, resume, known)).toEqual({ kind: 'whole', remote: known, sized: false, acceptRanges: false });
  });

  it('412 and 416 mean another version; other statuses are refused', () => {
    expect(readGetAnswer(412, {}, resume, known)).toEqual({ kind: 'changed' });
    expect(readGetAnswer(416, { 'content-range': 'bytes */900' }, resume, known)).toEqual({ kind: 'changed' });
    expect(readGetAnswer(503, {}, resume, known)).toEqual({ kind: 'refused' });
  });
});
