// The freshness fence's target from the check query's 'X/Y blocksize' (session/analytics.ts fenceTarget).
import { describe, expect, it } from 'vitest';
import { fenceTarget } from '../../src/session/analytics.js';

describe('fenceTarget', () => {
  it('keeps a position inside a page', () => {
    expect(fenceTarget('0/16B3748 8192')).toBe('0/16B3748');
    expect(fenceTarget('1/20 8192')).toBe('1/20');
  });

  it('steps back over a short page header (offset 24, where no record can end) to the page start', () => {
    expect(fenceTarget('0/16B4018 8192')).toBe('0/16B4000');
    expect(fenceTarget('2/18 8192')).toBe('2/0');
  });

  it('reads the page size the server reports: offset 24 of an 8 KiB boundary inside a 16 KiB page is a record end', () => {
    expect(fenceTarget('0/2018 16384')).toBe('0/2018');
    expect(fenceTarget('0/4018 16384')).toBe('0/4000');
  });

  it('null stays null (a standby that has replayed nothing)', () => {
    expect(fenceTarget(null)).toBeNull();
  });
});
