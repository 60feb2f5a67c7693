// Values a column's mirror type cannot hold exactly raise one tagged error naming the column, so the
// mirror can keep that column as text instead of taking the table off DuckDB (types.ts, snapshot.ts).
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { castExpr, mapColumn, sqlString, unholdableColumn } from '../../src/mirror/types.js';

const col = (typeOid: number, elemOid = 0) =>
  mapColumn({ name: 'c', typeOid, typmod: -1, pgType: '', baseOid: typeOid, typtype: 'b', elemOid, elemTyptype: elemOid ? 'b' : '' });

describe('unholdable values', () => {
  it('name the column index in the error, and cast everything else', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const run = async (m: ReturnType<typeof col>, text: string, index: number) => {
      try {
        return { value: (await c.runAndReadAll(`SELECT ${castExpr(m, sqlString(text), index)}::VARCHAR`)).getRows()[0]![0], column: null };
      } catch (e) {
        return { value: null, column: unholdableColumn(e) };
      }
    };
    expect(await run(col(1082), '2024-02-29', 3)).toEqual({ value: '2024-02-29', column: null });
    expect(await run(col(1082), '0044-03-15 BC', 3)).toEqual({ value: null, column: 3 });
    expect(await run(col(1082), 'infinity', 1)).toEqual({ value: null, column: 1 });
    expect(await run(col(1184), '-infinity', 7)).toEqual({ value: null, column: 7 });
    expect(await run(col(1114), '2000-01-01 00:00:00 BC', 0)).toEqual({ value: null, column: 0 });
    // arrays: staged as JSON of element texts; a 2-D or non-1-based one is staged as 'unsupported array shape'
    expect(await run(col(1007, 23), '["1","2"]', 2)).toEqual({ value: '[1, 2]', column: null });
    expect(await run(col(1007, 23), 'unsupported array shape', 2)).toEqual({ value: null, column: 2 });
    expect(await run(col(1182, 1082), '["0001-01-01 BC"]', 5)).toEqual({ value: null, column: 5 });
    c.closeSync();
  });

  it('any other error names no column', () => {
    expect(unholdableColumn(new Error('Conversion Error: invalid input'))).toBeNull();
    expect(unholdableColumn(new Error('Invalid Input Error: duckgate-unholdable-column#12#: x'))).toBe(12);
  });
});
