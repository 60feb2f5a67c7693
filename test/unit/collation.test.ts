import { describe, expect, it } from 'vitest';
import { collationProbeSql, isBytewiseCollation } from '../../src/session/collation.js';

describe('which default collations order text as DuckDB does', () => {
  it('C, POSIX and the C.UTF-8 spellings count only when the server probe agrees', () => {
    for (const name of ['C', 'POSIX', 'b:C', 'C.UTF-8', 'C.utf8', 'C.UTF8', 'b:C.UTF-8', 'b:PG_UNICODE_FAST']) {
      expect(isBytewiseCollation(name, 'true'), name).toBe(true);
      expect(isBytewiseCollation(name, 'false'), name).toBe(false);
      expect(isBytewiseCollation(name, null), name).toBe(false);
    }
  });

  it('linguistic collations never do, whatever the probe says', () => {
    for (const name of ['en_US.UTF-8', 'de_DE.utf8', 'i:und', 'i:en-US', 'c', 'C.UTF-16', 'posix', 'CUTF8', 'C.UTF-8@euro', '']) {
      expect(isBytewiseCollation(name, 'true'), name).toBe(false);
    }
    expect(isBytewiseCollation(null, 'true')).toBe(false);
  });

  it('the probe query is plain ASCII, so any client_encoding can carry it', () => {
    const sql = collationProbeSql();
    expect(/^[\x20-\x7e]*$/.test(sql)).toBe(true);
    // the non-ASCII pairs are there, as hex of their UTF-8 bytes (á, 😀)
    expect(sql).toContain("'c3a1'");
    expect(sql).toContain("'f09f9880'");
    expect(sql).toContain('COLLATE "default"');
  });
});
