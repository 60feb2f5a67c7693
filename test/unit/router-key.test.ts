// Decision cache keys: literal constants folded so varying point lookups share one parse, while
// anything that can change a decision (LIMIT values, hints, SET values) stays in the key.
import { describe, expect, it } from 'vitest';
import { decisionKeyText } from '../../src/router/text.js';

describe('decisionKeyText', () => {
  it('folds numbers and strings in predicates', () => {
    expect(decisionKeyText('SELECT abalance FROM pgbench_accounts WHERE aid = 4711')).toBe(decisionKeyText('SELECT abalance FROM pgbench_accounts WHERE aid = 12'));
    expect(decisionKeyText("SELECT * FROM t WHERE s = 'it''s' AND n > 3.5")).toBe("SELECT * FROM t WHERE s = '?' AND n > 0");
  });

  it('keeps identifiers with digits and $n parameters', () => {
    expect(decisionKeyText('SELECT c1 FROM t2 WHERE x = $1')).toBe('SELECT c1 FROM t2 WHERE x = $1');
  });

  it('keeps LIMIT/OFFSET values (the small-LIMIT rule reads them)', () => {
    expect(decisionKeyText('SELECT a FROM t LIMIT 10')).not.toBe(decisionKeyText('SELECT a FROM t LIMIT 5000'));
    expect(decisionKeyText('SELECT a FROM t WHERE b = 1 LIMIT 10 OFFSET 20')).toBe('SELECT a FROM t WHERE b = 0 LIMIT 10 OFFSET 20');
  });

  it('keeps the full text where comments, dollar quotes or escapes appear', () => {
    const hinted = '/* duckgate: route=postgres */ SELECT count(*) FROM t WHERE a = 1';
    expect(decisionKeyText(hinted)).toBe(hinted);
    expect(decisionKeyText("SELECT $$x$$ FROM t WHERE a = 1")).toBe('SELECT $$x$$ FROM t WHERE a = 1');
    expect(decisionKeyText("SELECT E'a\\'b' FROM t")).toBe("SELECT E'a\\'b' FROM t");
  });

  it('keeps session statements whole (their values are the decision)', () => {
    expect(decisionKeyText("SET duckgate.route = 'duckdb'")).toBe("SET duckgate.route = 'duckdb'");
  });
});
