// The differential generator's pure parts (test/sqlgen/): a seed and an index always give the same
// statement, every statement is SQL Postgres's own parser accepts, the minimiser's candidates are
// smaller and keep parsing more often than not, and rows compare as a multiset only without a total
// ORDER BY. (Running the statements is test/integration/sqlgen.test.ts.)
import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { reductions, render, totalOrder } from '../sqlgen/ast.js';
import { compareReplies, generate, shapeOf } from '../sqlgen/runner.js';
import type { Samples } from '../sqlgen/schema.js';

const samples: Samples = new Map([
  ['users.country', ['DE', 'US']],
  ['cdx_records.mimetype', ['text/html', "it's"]],
  ['scrape_pages.fetch_ms', ['-5', '120']],
]);

beforeAll(async () => {
  await loadModule();
});

const parses = (sql: string): boolean => {
  try {
    parseSync(sql);
    return true;
  } catch {
    return false;
  }
};

describe('sqlgen generator', () => {
  it('regenerates the same statement from a seed and an index, and others from others', () => {
    const a = Array.from({ length: 50 }, (_, i) => render(generate(samples, 7, i)));
    const b = Array.from({ length: 50 }, (_, i) => render(generate(samples, 7, i)));
    expect(b).toEqual(a);
    expect(new Set(a).size).toBe(50);
    expect(render(generate(samples, 8, 0))).not.toBe(a[0]);
  });

  it('writes SQL that Postgres parses, with an ORDER BY over every column wherever there is a LIMIT', () => {
    const bad: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const q = generate(samples, 1, i);
      const sql = render(q);
      if (!parses(sql)) bad.push(sql);
      if (q.limit !== null) expect(totalOrder(q), sql).toBe(true);
    }
    expect(bad).toEqual([]);
  });

  it('offers only smaller candidates, most of them still valid SQL', () => {
    let total = 0;
    let valid = 0;
    for (let i = 0; i < 40; i++) {
      const q = generate(samples, 3, i);
      const len = render(q).length;
      for (const r of reductions(q)) {
        const sql = render(r);
        total++;
        if (sql.length < len && parses(sql)) valid++;
      }
    }
    expect(total).toBeGreaterThan(200);
    expect(valid / total).toBeGreaterThan(0.8);
  });

  it('groups minimised statements of one shape', () => {
    expect(shapeOf('SELECT t0.tld AS c1, avg(t0.id) AS c3 FROM domains t0 GROUP BY 1 ORDER BY 2, 1')).toBe(
      shapeOf("SELECT t3.event_type AS c7, avg(t3.user_id) AS c9 FROM events t3 GROUP BY 1 ORDER BY 2, 1"),
    );
    expect(shapeOf("SELECT extract(minute FROM t0.day) AS c1 FROM project_analytics t0")).not.toBe(
      shapeOf('SELECT t0.tld AS c1, avg(t0.id) AS c3 FROM domains t0 GROUP BY 1 ORDER BY 2, 1'),
    );
  });
});

describe('sqlgen comparison', () => {
  const row = (...cells: string[]): string => {
    const b = Buffer.alloc(2 + cells.reduce((n, c) => n + 4 + Buffer.byteLength(c), 0));
    let o = b.writeInt16BE(cells.length, 0);
    for (const c of cells) {
      o = b.writeInt32BE(Buffer.byteLength(c), o);
      o += b.write(c, o);
    }
    return `D ${b.toString('hex')}`;
  };
  // messages as the harness renders them: type letter, space, body in hex
  const error = (code: string): string => `E ${Buffer.from(`SERROR\0C${code}\0Mm\0\0`).toString('hex')}`;
  const done = `C ${Buffer.from('SELECT 2\0').toString('hex')}`;

  it('compares rows in order under a total ORDER BY, else as multisets', () => {
    const pg = [row('1'), row('2'), done];
    const dg = [row('2'), row('1'), done];
    expect(compareReplies('SELECT 1', pg, dg, true)?.kind).toBe('rows');
    expect(compareReplies('SELECT 1', pg, dg, false)).toBeNull();
    expect(compareReplies('SELECT 1', pg, [row('1'), row('3'), done], false)?.kind).toBe('rows');
  });

  it('matches floats an aggregate computed within the tolerance in a multiset, whatever their text length', () => {
    const t = Buffer.alloc(2 + 3 + 18);
    t.writeInt16BE(1, 0);
    t.write('c\0', 2);
    t.writeInt32BE(0, 4); // no table column behind it
    t.writeInt16BE(0, 8);
    t.writeInt32BE(701, 10); // float8
    t.writeInt16BE(8, 14);
    t.writeInt32BE(-1, 16);
    t.writeInt16BE(0, 20);
    const desc = `T ${t.subarray(0, 22).toString('hex')}`;
    const pg = [desc, row('2.5'), row('0.3598833142295931'), done];
    const dg = [desc, row('0.359883314229593'), row('2.5'), done];
    expect(compareReplies('SELECT stddev_pop(x) FROM t GROUP BY y', pg, dg, false)).toBeNull();
    expect(compareReplies('SELECT x FROM t', pg, dg, false)?.kind).toBe('rows');
  });

  it('compares errors by SQLSTATE, and an error against rows as a difference', () => {
    expect(compareReplies('SELECT 1', [error('22012')], [error('22012')], true)).toBeNull();
    expect(compareReplies('SELECT 1', [error('22012')], [error('22003')], true)?.kind).toBe('error');
    expect(compareReplies('SELECT 1', [error('0A000')], [row('1'), done], true)?.kind).toBe('error');
  });
});
