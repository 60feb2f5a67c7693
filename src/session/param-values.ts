// Parameter values as Postgres reads them. A value a client binds must mean to DuckDB exactly what
// Postgres's input function makes of it (int4in rejects '9.5', '0x9', '1e5' and '1_0' with 22P02;
// timestamp_in rounds a seventh fractional digit where DuckDB truncates; boolin reads 'yes' and 'on';
// date_in follows DateStyle …). DuckDB's own casts read text differently, so no text a client sent is
// given to DuckDB as it came: the control round trip binds the client's values (text or binary, as
// the client sent them) to a statement of ours that returns them unchanged, with binary results.
// Postgres applies its input (or receive) function, raising its own error for a value it rejects,
// and sends each value back in its binary form, which no session setting changes (DateStyle,
// IntervalStyle, TimeZone, extra_float_digits, bytea_output). binaryParamText() (engines/duckdb/
// params.ts) turns those bytes into the text DuckDB binds; a type or value it cannot carry exactly
// sends the statement to Postgres.
//
// The statement of ours must type its parameters as the client's statement does: the client's
// statement, wrapped as a CTE that is never referenced (so never planned nor run, PostgreSQL 12+
// drops an unreferenced SELECT CTE), infers the same types from the same text, and the parameter
// types the client's Parse declared are declared again. The session compares the ParameterDescription
// of both statements and uses the values only when they agree.
import { serialize } from 'pg-protocol';
import { decodeDataRow, decodeErrorFields, decodeParameterDescription } from '../protocol/backend-scan.js';
import { B } from '../protocol/codes.js';

/** Name of duckgate's parameter statement and portal (closed before it is prepared, like the others). */
export const PARAMS_NAME = '__duckgate_params';

/** The SELECT returning $1..$n typed as in the client's statement `sql`. */
export function paramsSql(sql: string, count: number): string {
  const list = Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ');
  // newlines: the client's text may end in a -- comment
  return `WITH __duckgate_statement AS (\n${sql.replace(/[\s;]+$/, '')}\n) SELECT ${list}`;
}

/**
 * The messages of the round trip's parameter segment: the statement of ours parsed with the client's
 * declared types, described (its ParameterDescription), bound with the client's values in the client's
 * formats and binary results, executed, closed, Sync.
 */
export function paramsMessages(sql: string, declared: readonly number[], params: ReadonlyArray<Buffer | null>, formats: readonly number[]): Buffer[] {
  // pg-protocol's bind sends a Buffer in binary, a string in text: each value in the client's format
  const values = params.map((p, i) => (p === null ? null : formatOf(formats, i) === 1 ? p : p.toString('utf8')));
  return [
    serialize.close({ type: 'S', name: PARAMS_NAME }),
    serialize.parse({ name: PARAMS_NAME, text: paramsSql(sql, params.length), types: [...declared] }),
    serialize.describe({ type: 'S', name: PARAMS_NAME }),
    serialize.bind({ portal: PARAMS_NAME, statement: PARAMS_NAME, values, binary: true }),
    serialize.execute({ portal: PARAMS_NAME }),
    // a portal outlives the Sync inside a transaction block: closed, or the next Bind of it fails (42P03)
    serialize.close({ type: 'P', name: PARAMS_NAME }),
    serialize.close({ type: 'S', name: PARAMS_NAME }),
    serialize.sync(),
  ];
}

/** Bind's format codes: none = all text, one = all alike, else one per parameter. */
function formatOf(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
}

export type ParamsAnswer =
  | { ok: true; types: number[]; values: Array<Buffer | null> }
  | { ok: false; reason: string; sqlstate: string | null };

/**
 * Reads the parameter segment's replies: the parameter types Postgres inferred (ParameterDescription)
 * and each value in binary (the DataRow), or Postgres's error.
 */
export function readParamsAnswer(replies: ReadonlyArray<{ type: number; body: Buffer }>): ParamsAnswer {
  let types: number[] | null = null;
  let values: Array<Buffer | null> | null = null;
  for (const m of replies) {
    if (m.type === B.errorResponse) {
      const e = decodeErrorFields(m.body);
      return { ok: false, reason: e.get('M') ?? 'error', sqlstate: e.get('C') ?? null };
    }
    if (m.type === B.parameterDescription) types = decodeParameterDescription(m.body);
    else if (m.type === B.dataRow) values = decodeDataRow(m.body);
  }
  if (types === null || values === null) return { ok: false, reason: 'no parameter values', sqlstate: null };
  return { ok: true, types, values };
}
