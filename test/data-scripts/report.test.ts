/**
 * The one line save.sh and restore.sh print last on success is what the bot
 * records (sizes, checksums): parsed strictly, or not at all.
 */
import { describe, expect, it } from 'vitest';
import { loadDataScripts, parseRestoreReport, parseSaveReport } from '../../src/data-scripts/index.js';

const SHA = 'a'.repeat(64);
const TREE = '0123456789abcdef'.repeat(4);

describe('parseSaveReport', () => {
  const line = `dormouse-save v1 bytes=700198 sha256=${SHA} parts=3 compression=zstd entries=20`;

  it('reads the last report line, after progress and with a trailing newline', () => {
    expect(parseSaveReport(`something else\n${line}\n`)).toEqual({ bytes: 700198, sha256: SHA, parts: 3, compression: 'zstd', entries: 20 });
    expect(parseSaveReport(`${line}\r\n`)).toEqual({ bytes: 700198, sha256: SHA, parts: 3, compression: 'zstd', entries: 20 });
  });

  it('takes the last report when there are several', () => {
    const earlier = `dormouse-save v1 bytes=1 sha256=${'b'.repeat(64)} parts=1 compression=gzip entries=1`;
    expect(parseSaveReport(`${earlier}\n${line}`)?.bytes).toBe(700198);
  });

  it.each([
    ['no report', 'dormouse-save: saved 10 bytes'],
    ['another version', line.replace('v1', 'v2')],
    ['a short checksum', line.replace(SHA, 'a'.repeat(63))],
    ['an uppercase checksum', line.replace(SHA, 'A'.repeat(64))],
    ['an unknown compression', line.replace('zstd', 'xz')],
    ['a negative size', line.replace('bytes=700198', 'bytes=-1')],
    ['a zero size', line.replace('bytes=700198', 'bytes=0')],
    ['a leading zero', line.replace('bytes=700198', 'bytes=0700198')],
    ['a fraction', line.replace('parts=3', 'parts=3.5')],
    ['no parts', line.replace('parts=3', 'parts=0')],
    ['a number past 2^53', line.replace('bytes=700198', 'bytes=9007199254740993')],
    ['a missing field', line.replace(' entries=20', '')],
    ['an extra field', `${line} extra=1`],
    ['fields out of order', `dormouse-save v1 sha256=${SHA} bytes=700198 parts=3 compression=zstd entries=20`],
    ['a malformed last report after a good one', `${line}\ndormouse-save v1 bytes=oops`],
  ])('is undefined for %s', (_, stdout) => {
    expect(parseSaveReport(stdout)).toBeUndefined();
  });
});

describe('parseRestoreReport', () => {
  it('reads bytes, checksum, entries and the tree digest', () => {
    expect(parseRestoreReport(`dormouse-restore v1 bytes=504 sha256=${SHA} entries=20 tree=${TREE}\n`)).toEqual({
      bytes: 504,
      sha256: SHA,
      entries: 20,
      tree: TREE,
    });
  });

  it('leaves the tree out when it was not asked for (`-`)', () => {
    expect(parseRestoreReport(`dormouse-restore v1 bytes=504 sha256=${SHA} entries=0 tree=-`)).toEqual({ bytes: 504, sha256: SHA, entries: 0 });
  });

  it.each([
    ['nothing', ''],
    ['a save report', `dormouse-save v1 bytes=1 sha256=${SHA} parts=1 compression=gzip entries=1`],
    ['a bad tree digest', `dormouse-restore v1 bytes=504 sha256=${SHA} entries=20 tree=xyz`],
    ['an empty tree field', `dormouse-restore v1 bytes=504 sha256=${SHA} entries=20 tree=`],
    ['a missing tree field', `dormouse-restore v1 bytes=504 sha256=${SHA} entries=20`],
    ['a bad checksum', `dormouse-restore v1 bytes=504 sha256=${SHA}0 entries=20 tree=-`],
    ['a bad count', `dormouse-restore v1 bytes=504 sha256=${SHA} entries=twenty tree=-`],
  ])('is undefined for %s', (_, stdout) => {
    expect(parseRestoreReport(stdout)).toBeUndefined();
  });
});

describe('loadDataScripts', () => {
  it('reads both scripts from the files next to the module', () => {
    const { save, restore } = loadDataScripts();
    expect(save).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(save).toContain('dormouse-save v1');
    expect(restore).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(restore).toContain('dormouse-restore v1');
  });
});
