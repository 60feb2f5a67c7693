// Postgres SELECT → DuckDB SQL, keeping Postgres's semantics, or a refusal with a reason.
//
// libpg-query@17 has no deparser, so this is a small deparser of its own over an ALLOWLIST of parse
// tree nodes, functions and types: anything not listed refuses the whole statement (the router then
// sends it to Postgres), so an unknown construct can never be translated approximately.
//
// What it changes on the way (each a known Postgres/DuckDB difference):
// - table references go through the resolver (session search_path → the mirror's DuckDB relation);
// - `/` and `%` divide through dg_nz() (errors on zero like Postgres; DuckDB would return NULL), and the
//   connection runs with integer_division = true so int / int truncates as in Postgres;
// - ORDER BY without NULLS FIRST/LAST gets Postgres's default written out (ASC → LAST, DESC → FIRST);
// - LIKE/ILIKE use backslash as escape (Postgres's default; DuckDB has none);
// - ~, ~*, !~, !~* become regexp_matches();
// - extract() yields a DECIMAL with the scale Postgres's numeric extract prints, date_part() a DOUBLE;
// - a top-level avg() whose Postgres type is numeric becomes {s: sum, c: count}, from which the encoder
//   computes Postgres's exact quotient and display scale (DuckDB's avg is a DOUBLE);
// - Postgres type names in casts become DuckDB's.
// Final type alignment to the RowDescription happens in align.ts once DuckDB has typed the statement.
import { loadModule, parseSync } from 'libpg-query';
import { OPERATOR_CAPABILITIES, SEAMLESS_FUNCTIONS } from '../../router/capabilities.js';
import { float4Marks, type Float4Marks } from './float4.js';
import { Oid } from './pg-types.js';
import { isAggregateCall, planPreAggregation, type PreAggPlan, type RelationFacts } from './preaggregate.js';
import { figureName, scopeRefusal } from './scope.js';

export type Resolver = (schema: string | null, name: string) => string | null;

export interface RewriteInput {
  /** maps a (schema-qualified or bare) table name to the DuckDB relation (already quoted), or null: refuse */
  resolve: Resolver;
  /** Postgres's RowDescription for the statement (type OIDs per output column), when known */
  fieldTypeOids?: readonly number[];
  /** Postgres's ParameterDescription (type OIDs of $1..$n) */
  paramTypeOids?: readonly number[];
  /** columns and size of a resolved relation: enables pre-aggregation (preaggregate.ts) where it pays */
  relation?: (ref: string) => RelationFacts | undefined;
}

/**
 * Per output column, what produced it (the type alignment accepts some conversions only for these):
 * - 'avg': a top-level avg() shipped as {s: sum, c: count} (the encoder divides as Postgres does);
 * - 'div': a top-level numeric division shipped as {n: numerator, d: denominator} (likewise);
 * - 'integral': if DuckDB computes an integer where Postgres has numeric, Postgres's value is that same
 *   integer with display scale 0 (see integralNumericSafe);
 * - 'other': no such conversion is exact;
 * - 'mixed_scale': integral, but its branches may carry numerics of different scales (see mixesScales):
 *   an integer (or an avg/division shipped as integer parts) is exact, a DuckDB DECIMAL is not.
 */
export type ColumnKind = 'integral' | 'avg' | 'div' | 'other' | 'mixed_scale';

/**
 * Expressions whose Postgres numeric value keeps the scale of whichever branch produced it (coalesce,
 * CASE, greatest/least): `coalesce(sum(credits), 0)` prints `0` in Postgres where DuckDB's one DECIMAL
 * type prints `0.00`. Such a column cannot be carried as a DuckDB DECIMAL into unconstrained numeric.
 */
function mixesScales(n: unknown): boolean {
  return anyNode(n, (o) => !!(o.CoalesceExpr || o.CaseExpr || o.MinMaxExpr || (o.FuncCall && isLagLeadWithDefault(o.FuncCall))));
}

/** lag/lead(v, n, default): the default keeps its own numeric scale in Postgres (see windowArguments). */
function isLagLeadWithDefault(fc: Node): boolean {
  const names = (fc.funcname as Node[]).map((x) => x.String?.sval as string);
  return ['lag', 'lead'].includes(names[names.length - 1]!) && (fc.args as Node[] | undefined)?.length === 3;
}

/** Whether any node of a parse tree (arrays and objects, depth first) satisfies the test. */
function anyNode(n: unknown, test: (o: Node) => boolean): boolean {
  if (n === null || typeof n !== 'object') return false;
  if (!Array.isArray(n) && test(n as Node)) return true;
  return Object.values(n as Node).some((v) => anyNode(v, test));
}

export type RewriteResult =
  | {
      ok: true;
      sql: string;
      kinds: ColumnKind[];
      /**
       * Per output column, a numeric display scale the encoder must apply (Postgres's round(x, n) yields
       * scale n whatever Postgres's RowDescription typmod says, which is -1), or null.
       */
      scales: Array<number | null>;
      /**
       * The select list has a * at the top level: the engine must check that DuckDB's column names are
       * Postgres's, in order (a mirror whose columns differ in order or number is refused).
       */
      checkNames: boolean;
      /** calls now()/current_date/localtimestamp: the engine defines dg_now() etc. from the session clock */
      clock: boolean;
      /** maps letter case the C ctype's way (ASCII only): only for databases whose LC_CTYPE is C/POSIX */
      caseMapping: boolean;
      /** subtracts a value that is not a number/interval literal (maybe two timestamptz): zones without DST only */
      subtractsValues: boolean;
      /** SELECT levels computed over pre-aggregated groups (preaggregate.ts) */
      preAggregated: number;
    }
  | {
      ok: false;
      reason: string;
      /**
       * The rewrite read a constant's value on its way (a to_char format, a regex pattern, an extract
       * field…): the refusal may hold for this text only, not for every statement of its shape.
       */
      byValue?: boolean;
    };

class Refuse extends Error {}

/** A refusal that holds for this session's name resolution only (a table not mirrored under its search_path). */
function refuseHere(reason: string): never {
  readConstant = true;
  return refuse(reason);
}

/** Set while a rewrite reads a constant's value (see RewriteResult.byValue); the rewrite is synchronous. */
let readConstant = false;

function refuse(reason: string): never {
  throw new Refuse(reason);
}

let loaded: Promise<void> | null = null;
/** Loads the parser (WASM); call once before rewrite(). */
export function initRewriter(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

type Node = Record<string, any>;

const q = (ident: string): string => '"' + ident.replace(/"/g, '""') + '"';
const lit = (s: string): string => "'" + s.replace(/'/g, "''") + "'";

/** Postgres type name (last part, as the parser gives it) → DuckDB type, or null: refuse. */
function duckTypeName(tn: Node): string {
  const names: string[] = (tn.names ?? []).map((n: Node) => n.String?.sval as string);
  const name = names[names.length - 1] ?? '';
  if (tn.arrayBounds?.length) {
    const base = duckTypeName({ ...tn, arrayBounds: undefined });
    return base + '[]'.repeat(tn.arrayBounds.length);
  }
  if (tn.setof || tn.pct_type) refuse('unsupported type syntax');
  const mods: Node[] = tn.typmods ?? [];
  const intMod = (i: number): number => {
    const v = mods[i]?.A_Const?.ival?.ival;
    if (mods[i] && typeof v !== 'number' && mods[i]?.A_Const?.ival === undefined) refuse('non-constant type modifier');
    return typeof v === 'number' ? v : 0;
  };
  switch (name) {
    case 'int2': case 'smallint': return 'SMALLINT';
    case 'int4': case 'int': case 'integer': return 'INTEGER';
    case 'int8': case 'bigint': return 'BIGINT';
    case 'float4': case 'real': return 'FLOAT';
    case 'float8': return 'DOUBLE';
    case 'bool': case 'boolean': return 'BOOLEAN';
    case 'date': return 'DATE';
    case 'timestamp': if (mods.length) refuse('timestamp(p) rounds'); return 'TIMESTAMP';
    case 'timestamptz': if (mods.length) refuse('timestamptz(p) rounds'); return 'TIMESTAMPTZ';
    case 'time': if (mods.length) refuse('time(p) rounds'); return 'TIME';
    case 'interval': if (mods.length || tn.typmods) refuse('interval fields'); return 'INTERVAL';
    case 'uuid': return 'UUID';
    case 'bytea': return 'BLOB';
    case 'numeric': case 'decimal': {
      // Unconstrained numeric keeps the input's own scale in Postgres (e.g. 15 significant digits of a
      // float): DuckDB has no such type, so only numeric(p,s) with p <= 38 is translated.
      if (mods.length === 0) refuse('cast to unconstrained numeric');
      const p = intMod(0);
      const s = mods.length > 1 ? intMod(1) : 0;
      if (p < 1 || p > 38 || s < 0 || s > p) refuse(`numeric(${p},${s}) has no exact DuckDB DECIMAL`);
      return `DECIMAL(${p},${s})`;
    }
    case 'varchar': case 'text': case 'bpchar':
      // Casting a non-string to text prints it DuckDB's way (true vs t, float digits): refused upstream.
      if (mods.length) refuse('varchar(n)/char(n) casts truncate or pad');
      return 'VARCHAR';
    default:
      return refuse(`type ${names.join('.')} is not translated`);
  }
}

/** Postgres OID → DuckDB type for parameter casts. */
export function duckTypeForOid(oid: number): string | null {
  switch (oid) {
    case Oid.int2: return 'SMALLINT';
    case Oid.int4: return 'INTEGER';
    case Oid.int8: return 'BIGINT';
    case Oid.float4: return 'FLOAT';
    case Oid.float8: return 'DOUBLE';
    case Oid.bool: return 'BOOLEAN';
    case Oid.text: case Oid.varchar: case Oid.bpchar: return 'VARCHAR';
    case Oid.date: return 'DATE';
    case Oid.timestamp: return 'TIMESTAMP';
    case Oid.timestamptz: return 'TIMESTAMPTZ';
    case Oid.time: return 'TIME';
    case Oid.interval: return 'INTERVAL';
    case Oid.uuid: return 'UUID';
    case Oid.numeric: return 'DECIMAL(38,10)';
    default: return null;
  }
}

// extract(field FROM x): Postgres 14+ returns numeric; the scale it prints per field.
const extractFields: Record<string, string> = {
  year: '0', month: '0', day: '0', hour: '0', minute: '0', quarter: '0', dow: '0', isodow: '0', doy: '0', week: '0',
  isoyear: '0', decade: '0', century: '0', millennium: '0', microseconds: '0',
};

/**
 * Functions passed through by name: the capability list's 'seamless' entries (router/capabilities.ts,
 * the one table the router reads too). 'conditional' entries have a case in funcCall() that checks the
 * condition; anything else is refused.
 */
const passThrough = SEAMLESS_FUNCTIONS;

interface Ctx {
  input: RewriteInput;
  ctes: Set<string>[];
  /** per top-level output column: forced numeric display scale (round(x, n)) */
  scales: Array<number | null>;
  /** a top-level * was expanded by DuckDB */
  starTop: boolean;
  /** now() and friends were used */
  clock: boolean;
  /** lower/upper/ILIKE/~* were used */
  caseMapping: boolean;
  /** a subtraction whose right side is not a number or interval literal */
  subtractsValues: boolean;
  /** the SELECT level being deparsed over pre-aggregated groups, if any */
  pre: PreAggState | null;
  preAggregated: number;
  /** names of the statement's table columns that DuckDB holds as DOUBLE/FLOAT (see sortBy) */
  floatColumns: ReadonlySet<string>;
  /** top-level output columns shipped as a struct ({s, c} of an avg, {n, d} of a division) */
  structColumns: Set<number>;
  /** the top level's select list, while its ORDER BY is deparsed */
  topTargets: Node[] | null;
  /** the statement's parse tree (for the float-column facts below) */
  tree?: Node;
  /** column names of float type in the statement's relations, computed when first needed (mayBeFloat) */
  floats?: { float: Set<string>; known: Set<string>; complete: boolean };
  /** how many guarded float operations enclose the one being deparsed */
  floatDepth?: number;
  /** float4 operands to widen and numeric constants to read as Postgres does (float4.ts) */
  f4: Float4Marks | null;
}

/** A pre-aggregation plan while its level is deparsed: the partials its aggregates need. */
interface PreAggState {
  plan: PreAggPlan;
  /** inner aggregate SQL → its column name in the pre-aggregated subquery */
  partials: Map<string, string>;
  /** stands for the subquery in the FROM clause until every partial is known */
  placeholder: string;
  /** the resolved relation of the pre-aggregated table */
  ref: string | null;
  /** the WHERE conditions deparsed for the inner query */
  innerWhere: string[];
}

/** Thrown while deparsing over pre-aggregated groups when an aggregate has no two-step form: redo plainly. */
class NoPreAgg extends Error {}

export function rewrite(pgSql: string, input: RewriteInput): RewriteResult {
  let tree: Node;
  try {
    tree = parseSync(pgSql);
  } catch (e) {
    return { ok: false, reason: `parse: ${(e as Error).message}` };
  }
  const stmts: Node[] = tree.stmts ?? [];
  if (stmts.length !== 1) return { ok: false, reason: 'not exactly one statement' };
  const stmt = stmts[0]!.stmt as Node;
  if (!stmt.SelectStmt) return { ok: false, reason: 'not a SELECT' };
  // float4 typed as Postgres's operator resolution types it (float4.ts), from the DuckDB column types of
  // the relations read; a caller without them (no relation facts) gets no float4 handling
  const relation = input.relation;
  const f4 = relation
    ? float4Marks(stmt.SelectStmt, {
        columns: (schema, name) => {
          const ref = input.resolve(schema, name);
          const facts = ref === null ? undefined : relation(ref);
          return facts ? [...facts.columns] : null;
        },
        paramTypeOids: input.paramTypeOids ?? [],
      })
    : null;
  if (f4?.refusal) return { ok: false, reason: f4.refusal };
  // whole-row values and outer-level aggregates (scope.ts) mean something else in DuckDB
  const scoped = scopeRefusal(stmt.SelectStmt, input);
  if (scoped !== null) return { ok: false, reason: scoped };
  const ctx: Ctx = {
    input, ctes: [], scales: [], starTop: false, clock: false, caseMapping: false, subtractsValues: false, pre: null, preAggregated: 0,
    floatColumns: floatColumns(stmt, input), structColumns: new Set(), topTargets: null, f4,
  };
  readConstant = false;
  ctx.tree = stmt;
  try {
    const kinds: ColumnKind[] = [];
    const sql = select(stmt.SelectStmt, ctx, kinds);
    // Where dividing could make Postgres's numeric fractional while DuckDB's integer stays whole, no
    // integer may stand for a numeric (nor an integer-summed avg be trusted).
    if (!integralNumericSafe(stmt)) for (let i = 0; i < kinds.length; i++) if (kinds[i] !== 'other') kinds[i] = 'other';
    // A numeric whose scale varies by row (coalesce, CASE, greatest/least, a lag/lead default) in a CTE,
    // a subquery in FROM or a set operation's arm reaches the top-level columns through DuckDB's one
    // DECIMAL scale: `SELECT x FROM (SELECT coalesce(sum(credits), 0) AS x …)` prints 0 in Postgres.
    // No DECIMAL (nor a sum or count of one) may then stand for an unconstrained numeric.
    const top = stmt.SelectStmt as Node;
    if (mixesScales([top.withClause, top.fromClause, top.larg, top.rarg])) {
      for (let i = 0; i < kinds.length; i++) {
        if (kinds[i] === 'other' && input.fieldTypeOids?.[i] === Oid.numeric) refuse('a numeric of varying scale below the top level, read through a division');
        if (kinds[i] !== 'other') kinds[i] = 'mixed_scale';
      }
    }
    const scales = kinds.map((_, i) => ctx.scales[i] ?? null);
    return { ok: true, sql, kinds, scales, checkNames: ctx.starTop, clock: ctx.clock, caseMapping: ctx.caseMapping, subtractsValues: ctx.subtractsValues, preAggregated: ctx.preAggregated };
  } catch (e) {
    if (e instanceof Refuse) return readConstant ? { ok: false, reason: e.message, byValue: true } : { ok: false, reason: e.message };
    throw e;
  }
}

function select(s: Node, ctx: Ctx, topKinds?: ColumnKind[]): string {
  if (s.lockingClause?.length) refuse('FOR UPDATE/SHARE');
  if (s.intoClause) refuse('SELECT INTO');
  let out = '';
  let pushed = false;
  if (s.withClause) {
    if (s.withClause.recursive) refuse('WITH RECURSIVE');
    const names = new Set<string>();
    ctx.ctes.push(names);
    pushed = true;
    const parts: string[] = [];
    for (const c of s.withClause.ctes as Node[]) {
      const cte = c.CommonTableExpr;
      if (cte.ctematerialized && cte.ctematerialized !== 'CTEMaterializeDefault') refuse('MATERIALIZED CTE');
      if (!cte.ctequery?.SelectStmt) refuse('data-modifying CTE');
      const cols = cte.aliascolnames ? '(' + (cte.aliascolnames as Node[]).map((n) => q(n.String.sval)).join(', ') + ')' : '';
      parts.push(`${q(cte.ctename)}${cols} AS (${select(cte.ctequery.SelectStmt, ctx)})`);
      names.add(cte.ctename);
    }
    out += 'WITH ' + parts.join(', ') + ' ';
  }
  try {
    if (s.op && s.op !== 'SETOP_NONE') {
      const op = { SETOP_UNION: 'UNION', SETOP_INTERSECT: 'INTERSECT', SETOP_EXCEPT: 'EXCEPT' }[s.op as string];
      if (!op) refuse(`set operation ${s.op}`);
      // DuckDB's UNION (without ALL) is Postgres's; the left arm decides column kinds.
      out += `(${select(s.larg, ctx, topKinds)}) ${op}${s.all ? ' ALL' : ''} (${select(s.rarg, ctx)})`;
      // each arm's numeric values keep their own scale in Postgres; DuckDB unifies them
      if (topKinds) for (let i = 0; i < topKinds.length; i++) if (topKinds[i] !== 'avg' && topKinds[i] !== 'div') topKinds[i] = 'mixed_scale';
    } else if (s.valuesLists) {
      out += valuesList(s.valuesLists as Node[]);
    } else {
      // a plain level: over pre-aggregated groups where that pays and every aggregate allows it
      const outerPre = ctx.pre;
      ctx.pre = null;
      try {
        const plan = planPreAggregation(s, (name) => ctx.ctes.some((c) => c.has(name)), ctx.input.resolve, ctx.input.relation);
        let body: string | null = null;
        if (plan) {
          try {
            body = simpleSelect(s, ctx, topKinds, plan);
            ctx.preAggregated++;
          } catch (e) {
            if (!(e instanceof NoPreAgg)) throw e;
          }
        }
        out += body ?? simpleSelect(s, ctx, topKinds, null);
      } finally {
        ctx.pre = outerPre;
      }
      return out;
    }
    // the ORDER BY of a set operation names output columns: a struct shipped for an avg or a division
    // would be compared as a struct
    if (topKinds && s.sortClause && topKinds.some((k) => k === 'avg' || k === 'div')) refuse('ORDER BY over a set operation with a numeric avg or division column');
    out += orderAndLimit(s, ctx);
  } finally {
    if (pushed) ctx.ctes.pop();
  }
  return out;
}

/**
 * VALUES (…), (…) of constants: each column all integers (int4, int8 when one is beyond int4, as both
 * engines type them) or all strings (text / VARCHAR), NULLs among them allowed. Decimal literals (each
 * keeps its own scale in Postgres, DuckDB unifies them), booleans and all-NULL columns (text in
 * Postgres) are refused, as are integers beyond int4 (the parser gives them as text). Named as Postgres names them (column1, …; DuckDB's own are col0, …).
 */
function valuesList(rows: Node[]): string {
  const lists = rows.map((r) => (r.List?.items ?? []) as Node[]);
  const width = lists[0]?.length ?? 0;
  if (width === 0 || lists.some((l) => l.length !== width)) refuse('VALUES rows of different widths');
  for (let c = 0; c < width; c++) {
    const kinds = new Set(
      lists.map((l) => {
        const k = l[c]!.A_Const;
        if (!k) return refuse('VALUES item other than a constant');
        if (k.isnull) return 'null';
        if (k.ival !== undefined) return 'int';
        if (k.sval !== undefined) return 'text';
        return refuse('VALUES constant other than an integer or a string');
      }),
    );
    kinds.delete('null');
    if (kinds.size !== 1) refuse('VALUES column of mixed or only NULL constants');
  }
  const body = lists.map((l) => `(${l.map((x) => constant(x.A_Const)).join(', ')})`).join(', ');
  const names = Array.from({ length: width }, (_, i) => q(`column${i + 1}`)).join(', ');
  return `SELECT * FROM (VALUES ${body}) AS "dg_values"(${names})`;
}

/**
 * ROLLUP, CUBE and GROUPING SETS (DuckDB's grammar and meaning are the standard's, as Postgres's): a
 * row per grouping set, NULL in the columns the set leaves out. A parenthesised list inside ROLLUP/CUBE
 * (a RowExpr to the parser: one element of the set in Postgres, a row value in DuckDB) is refused, as is
 * a nested grouping set other than () in GROUPING SETS.
 */
function groupingSet(g: Node, ctx: Ctx): string {
  const content = (g.content ?? []) as Node[];
  const plain = (x: Node): string => {
    if (x.RowExpr || x.GroupingSet) refuse('a nested list in ROLLUP/CUBE');
    return expr(x, ctx);
  };
  switch (g.kind) {
    case 'GROUPING_SET_EMPTY':
      return '()';
    case 'GROUPING_SET_ROLLUP':
      return `ROLLUP (${content.map(plain).join(', ')})`;
    case 'GROUPING_SET_CUBE':
      return `CUBE (${content.map(plain).join(', ')})`;
    case 'GROUPING_SET_SETS':
      return `GROUPING SETS (${content
        .map((x) => {
          if (x.GroupingSet) {
            if (x.GroupingSet.kind !== 'GROUPING_SET_EMPTY') refuse('a nested grouping set');
            return '()';
          }
          if (x.RowExpr) return `(${((x.RowExpr.args ?? []) as Node[]).map(plain).join(', ')})`;
          return `(${plain(x)})`;
        })
        .join(', ')})`;
    default:
      return refuse(`grouping set ${g.kind}`);
  }
}

/** ORDER BY, LIMIT and OFFSET of a level. */
function orderAndLimit(s: Node, ctx: Ctx): string {
  let out = '';
  if (s.sortClause) out += ' ORDER BY ' + (s.sortClause as Node[]).map((b) => sortBy(b.SortBy, ctx)).join(', ');
  if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') refuse('FETCH ... WITH TIES');
  if (s.limitCount) out += ' LIMIT ' + expr(s.limitCount, ctx);
  if (s.limitOffset) out += ' OFFSET ' + expr(s.limitOffset, ctx);
  return out;
}

let placeholders = 0;

/** A SELECT level that is not a set operation, with its ORDER BY/LIMIT; over pre-aggregated groups when plan is given. */
function simpleSelect(s: Node, ctx: Ctx, topKinds: ColumnKind[] | undefined, plan: PreAggPlan | null): string {
  const state: PreAggState | null = plan
    ? { plan, partials: new Map(), placeholder: `\u0000dg_pre_${++placeholders}\u0000`, ref: null, innerWhere: [] }
    : null;
  ctx.pre = state;
  let out = 'SELECT ';
  if (s.distinctClause) {
    const d = s.distinctClause as Node[];
    out += d.length === 1 && Object.keys(d[0]!).length === 0 ? 'DISTINCT ' : `DISTINCT ON (${d.map((e) => expr(e, ctx)).join(', ')}) `;
  }
  const targets = s.targetList as Node[];
  if (topKinds && targets.some((t) => isStar(t.ResTarget.val))) {
    // A top-level *: output column i is no longer target i, so no target gets the per-column
    // treatment (avg, round); every column is plain, and the engine checks DuckDB's names against
    // Postgres's RowDescription (same mirror columns, same order).
    const n = ctx.input.fieldTypeOids?.length;
    if (n === undefined) refuse('SELECT * at top level without Postgres\'s RowDescription');
    ctx.starTop = true;
    out += targets.map((t) => target(t.ResTarget, ctx, undefined, 0)).join(', ');
    for (let i = 0; i < n; i++) topKinds[i] = 'integral';
  } else out += targets.map((t, i) => target(t.ResTarget, ctx, topKinds, i)).join(', ');
  if (s.fromClause) out += ' FROM ' + (s.fromClause as Node[]).map((f) => fromItem(f, ctx)).join(', ');
  if (state) {
    // the table's own conditions filter its rows inside; the others apply to the joined groups
    state.innerWhere = withoutPre(ctx, () => state.plan.innerWhere.map((c) => `(${expr(c, ctx)})`));
    if (state.plan.outerWhere.length) out += ' WHERE ' + state.plan.outerWhere.map((c) => `(${expr(c, ctx)})`).join(' AND ');
  } else if (s.whereClause) out += ' WHERE ' + expr(s.whereClause, ctx);
  if (s.groupClause) {
    if (s.groupDistinct) refuse('GROUP BY DISTINCT');
    out += ' GROUP BY ' + (s.groupClause as Node[]).map((g) => (g.GroupingSet ? groupingSet(g.GroupingSet, ctx) : expr(g, ctx))).join(', ');
  }
  if (s.havingClause) out += ' HAVING ' + expr(s.havingClause, ctx);
  if (s.windowClause) refuse('WINDOW clause');
  // the top level's ORDER BY may name its output columns (see sortBy)
  const outerTargets = ctx.topTargets;
  ctx.topTargets = topKinds && !targets.some((t) => isStar(t.ResTarget.val)) ? targets : null;
  try {
    out += orderAndLimit(s, ctx);
  } finally {
    ctx.topTargets = outerTargets;
  }
  if (!state) return out;
  if (state.ref === null) throw new NoPreAgg();
  const name = q(state.plan.name);
  const keys = state.plan.keys.map(q).join(', ');
  const cols = [keys, ...[...state.partials].map(([agg, col]) => `${agg} AS ${col}`)].join(', ');
  const where = state.innerWhere.length ? ` WHERE ${state.innerWhere.join(' AND ')}` : '';
  const sub = `(SELECT ${cols} FROM ${state.ref} AS ${name}${where} GROUP BY ${keys}) AS ${name}`;
  return out.split(state.placeholder).join(sub);
}

/** Deparses without intercepting aggregates (inside the pre-aggregating subquery). */
function withoutPre<T>(ctx: Ctx, f: () => T): T {
  const saved = ctx.pre;
  ctx.pre = null;
  try {
    return f();
  } finally {
    ctx.pre = saved;
  }
}

/** The column of the pre-aggregated subquery that holds this inner aggregate, as the outer level reads it. */
function partial(ctx: Ctx, inner: string): string {
  const st = ctx.pre!;
  let col = st.partials.get(inner);
  if (!col) {
    let i = st.partials.size;
    while (st.plan.columns.has(`_dg_p${i}`)) i++;
    col = q(`_dg_p${i}`);
    st.partials.set(inner, col);
  }
  return `${q(st.plan.name)}.${col}`;
}

/** An aggregate of this level over pre-aggregated groups: its partial inside, its combination outside. */
function preAggregate(name: string, fc: Node, ctx: Ctx): string {
  if (name === 'avg' || fc.agg_distinct || fc.agg_order || fc.agg_within_group || fc.func_variadic) throw new NoPreAgg();
  const inner = withoutPre(ctx, () => {
    const args = fc.agg_star ? '*' : ((fc.args ?? []) as Node[]).map((a) => expr(a, ctx)).join(', ');
    const filter = fc.agg_filter ? ` FILTER (WHERE ${expr(fc.agg_filter, ctx)})` : '';
    return `${name === 'every' ? 'bool_and' : name}(${args})${filter}`;
  });
  const p = partial(ctx, inner);
  switch (name) {
    case 'count': return `CAST(sum(${p}) AS BIGINT)`;
    case 'sum': return `sum(${p})`;
    case 'min': case 'max': case 'bool_and': case 'bool_or': return `${name}(${p})`;
    case 'every': return `bool_and(${p})`;
    default: throw new NoPreAgg();
  }
}

function target(t: Node, ctx: Ctx, kinds: ColumnKind[] | undefined, index: number): string {
  const v = t.val as Node;
  if (isStar(v)) return columnRef(v.ColumnRef);
  let sql: string;
  let kind: ColumnKind = 'integral';
  /** shipped as a struct the encoder divides (not a value DuckDB can compare) */
  let struct = false;
  const fc = v.FuncCall as Node | undefined;
  const fname = fc ? funcName(fc) : null;
  const numericOut = kinds !== undefined && ctx.input.fieldTypeOids?.[index] === Oid.numeric;
  const avgCall = (f: Node | undefined): f is Node => !!f && !f.over && !f.agg_within_group && funcName(f) === 'avg';
  if (numericOut && avgCall(fc)) {
    sql = avgParts(fc!, ctx);
    struct = true;
    // the sum of values of varying numeric scale has the largest one in Postgres (see mixesScales)
    kind = mixesScales(fc) ? 'mixed_scale' : 'avg';
  } else if (numericOut && fc && fname === 'round' && fc.args?.length === 2 && avgCall(fc.args[0]?.FuncCall)) {
    // round(avg(x), n): Postgres rounds its exact avg (at select_div_scale digits) half away from zero
    // to n digits, display scale n: the encoder does both steps on the shipped sum and count.
    if (fc.over || fc.agg_filter) refuse('round() with OVER/FILTER');
    sql = avgParts(fc.args[0].FuncCall, ctx);
    struct = true;
    kind = mixesScales(fc) ? 'mixed_scale' : 'avg';
    const n = intConstant(fc.args[1]);
    if (n === null || n < 0 || n > 1000) refuse('round(avg(x), n) with n not a constant in 0..1000');
    ctx.scales[index] = n;
  } else if (numericOut && fc && fname === 'round' && fc.args?.length === 2) {
    // round(x, n) exists in Postgres for numeric x only (integers are cast to numeric): rounded half away
    // from zero, display scale n. DuckDB's round rounds a DECIMAL the same way but keeps its scale when
    // n is larger (and an integer stays an integer): the encoder applies scale n. The alignment refuses
    // a DOUBLE x (e.g. a nested avg(), exact numeric in Postgres).
    if (fc.over || fc.agg_filter) refuse('round() with OVER/FILTER');
    const n = intConstant(fc.args[1]);
    if (n === null || n < 0 || n > 1000) refuse('round(x, n) with n not a constant in 0..1000');
    sql = `round(${expr(fc.args[0], ctx)}, ${n})`;
    ctx.scales[index] = n;
  } else if (numericOut && isDivision(v) && !containsDivision(v.A_Expr.lexpr) && !containsDivision(v.A_Expr.rexpr) && !mixesScales(v)) {
    // numeric / numeric: Postgres divides exactly at a scale that depends on both values
    // (select_div_scale), so the operands are shipped and the encoder divides as numeric_div does. Each
    // operand's DuckDB scale is Postgres's display scale (columns of numeric(p,s), integers, literals,
    // their sums, products and sums of them; align.ts refuses a DOUBLE operand), which is why an
    // operand may not divide again nor mix scales. NULL in, NULL out; a zero divisor is the error.
    const a = expr(v.A_Expr.lexpr, ctx);
    const b = expr(v.A_Expr.rexpr, ctx);
    sql = `CASE WHEN (${a}) IS NULL OR (${b}) IS NULL THEN NULL ELSE {'n': ${a}, 'd': dg_nz(${b})} END`;
    kind = 'div';
    struct = true;
  } else {
    sql = expr(v, ctx);
    if (numericOut && mixesScales(v)) kind = 'mixed_scale';
  }
  if (kinds) kinds[index] = kind;
  if (kinds && struct) ctx.structColumns.add(index);
  if (t.name) return `${sql} AS ${q(t.name)}`;
  // Below the top level, an unnamed item gets the name Postgres gives it, which outer references use:
  // DuckDB names x::int8 "CAST(x AS BIGINT)", so an outer `x` would bind to another level's x.
  const implicit = kinds ? null : figureName(v);
  return implicit === null ? sql : `${sql} AS ${q(implicit)}`;
}

/** a / b (the binary operator). */
function isDivision(v: Node): boolean {
  const e = v.A_Expr;
  return !!e && e.kind === 'AEXPR_OP' && !!e.lexpr && (e.name as Node[]).length === 1 && e.name[0].String?.sval === '/';
}

/** Whether an expression divides (or takes a modulo) anywhere. */
function containsDivision(n: unknown): boolean {
  return anyNode(
    n,
    (o) =>
      !!(o.A_Expr && (o.A_Expr.name as Node[] | undefined)?.some((x) => x.String?.sval === '/' || x.String?.sval === '%')) ||
      !!(o.FuncCall && ['avg', 'mod', 'div'].includes((o.FuncCall.funcname as Node[]).map((x) => x.String?.sval).pop())),
  );
}

/** A top-level numeric avg() as {s: sum, c: count} (NULL without rows), for the encoder to divide exactly. */
function avgParts(fc: Node, ctx: Ctx): string {
  // Postgres's avg(int/numeric) is numeric with a data-dependent display scale: ship sum and count.
  if (fc.agg_distinct || fc.agg_order || fc.args?.length !== 1) refuse('avg with DISTINCT/ORDER BY');
  const [arg, filter] = withoutPre(ctx, () => [expr(fc.args[0], ctx), fc.agg_filter ? ` FILTER (WHERE ${expr(fc.agg_filter, ctx)})` : '']);
  if (ctx.pre) {
    // over pre-aggregated groups: the sums of the groups' sums and counts
    const s = `sum(${partial(ctx, `sum(${arg})${filter}`)})`;
    const c = `CAST(sum(${partial(ctx, `count(${arg})${filter}`)}) AS BIGINT)`;
    return `CASE WHEN ${c} = 0 THEN NULL ELSE {'s': ${s}, 'c': ${c}} END`;
  }
  return `CASE WHEN count(${arg})${filter} = 0 THEN NULL ELSE {'s': sum(${arg})${filter}, 'c': count(${arg})${filter}} END`;
}

/** An integer literal (possibly negated), else null. */
function intConstant(n: Node | undefined): number | null {
  readConstant = true;
  if (n?.A_Const?.ival !== undefined) return n.A_Const.ival.ival ?? 0;
  if (n?.A_Expr?.kind === 'AEXPR_OP' && !n.A_Expr.lexpr && n.A_Expr.name?.[0]?.String?.sval === '-') {
    const v = intConstant(n.A_Expr.rexpr);
    return v === null ? null : -v;
  }
  return null;
}

/**
 * True when every integer DuckDB computes where Postgres has numeric is the same integer with display
 * scale 0. In the translated subset, the only Postgres numerics DuckDB types as integers are sum() over
 * integers (int8 → numeric in Postgres, HUGEINT in DuckDB) and whatever is computed from them by
 * +, -, *, %, abs, sign, floor, ceil, min, max, lag, CASE…: all integral, scale 0 in Postgres too.
 * round(x, n) is translated to a DECIMAL of scale n (so not an integer). Division is the exception:
 * Postgres divides numerics exactly, DuckDB (integer_division) truncates. A division over a sum is
 * refused where it is written; one over a column of a CTE or subquery (which may be such a sum) is
 * not visible there, so any division in a statement that reads a CTE or subquery makes it unsafe.
 */
function integralNumericSafe(stmt: Node): boolean {
  let division = false;
  let derived = false;
  const walk = (n: unknown): void => {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    const o = n as Node;
    if (o.A_Expr && (o.A_Expr.name as Node[] | undefined)?.some((x) => x.String?.sval === '/')) division = true;
    if (o.RangeSubselect || o.SubLink || o.CommonTableExpr) derived = true;
    for (const v of Object.values(o)) walk(v);
  };
  walk(stmt);
  return !(division && derived);
}

function isStar(v: Node): boolean {
  return !!v.ColumnRef && (v.ColumnRef.fields as Node[]).some((f) => f.A_Star);
}

/**
 * One sort key, ordering exactly as Postgres does (issue 10, class 12: a total ORDER BY must give
 * Postgres's row order):
 * - NULLS FIRST/LAST written out (Postgres: NULLs sort as larger than any value: last ASC, first DESC);
 * - a key naming a top-level output column shipped as a struct (a numeric avg as {s, c}, a division as
 *   {n, d}) would order by the struct's fields: refused; so is any other avg() in a key, whose exact
 *   numeric value Postgres compares (rounded at its display scale) where DuckDB compares a DOUBLE;
 * - DuckDB's sort stores a float key normalised (-0 as 0) and gives that value back for the column it
 *   sorted on (Postgres returns -0 as stored): a key that is a float column (by the tables' DuckDB
 *   types, or a float output column named by alias, position or its own expression) is sorted as
 *   `key + 0`, the same order, computed apart from the column.
 * NaN sorts above every other float in both; text compares bytewise in DuckDB, so the session's
 * gate serves text only under a bytewise default collation and without column collations
 * (session/collation.ts); a COLLATE clause is not translated.
 */
function sortBy(b: Node, ctx: Ctx): string {
  if (b.useOp) refuse('ORDER BY USING');
  const desc = b.sortby_dir === 'SORTBY_DESC';
  const nulls = b.sortby_nulls === 'SORTBY_NULLS_FIRST' ? 'FIRST' : b.sortby_nulls === 'SORTBY_NULLS_LAST' ? 'LAST' : desc ? 'FIRST' : 'LAST';
  const node = b.node as Node;
  const targets = ctx.topTargets;
  const col = targets ? outputColumn(node, targets) : null;
  const oid = col === null ? undefined : ctx.input.fieldTypeOids?.[col.index];
  const float = oid === Oid.float4 || oid === Oid.float8;
  if (col !== null && ctx.structColumns.has(col.index)) refuse('ORDER BY a numeric avg or division (Postgres compares its exact value)');
  if (!float && anyNode(node, (o) => !!o.FuncCall && funcNameOrNull(o.FuncCall) === 'avg' && !o.FuncCall.over)) refuse('ORDER BY avg() (Postgres compares its exact numeric value)');
  let key: string;
  // output names mean nothing inside the key (a window's ORDER BY in it)
  ctx.topTargets = null;
  try {
    if (col !== null && float) key = `(${expr(col.byName ? targets![col.index]!.ResTarget.val : node, ctx)}) + 0`;
    else if (col === null && node.ColumnRef && ctx.floatColumns.has(lastField(node.ColumnRef))) key = `(${expr(node, ctx)} + 0)`;
    else key = expr(node, ctx);
  } finally {
    ctx.topTargets = targets;
  }
  return `${key} ${desc ? 'DESC' : 'ASC'} NULLS ${nulls}`;
}

/**
 * The output column a top-level ORDER BY key names (findTargetlistEntrySQL92: a position, or a bare
 * name matching an output column's name; SQL99: an expression equal to an output expression), or null.
 * byName: named by position or name (the key's own text is not the column's expression).
 */
function outputColumn(node: Node, targets: Node[]): { index: number; byName: boolean } | null {
  const k = node.A_Const?.ival !== undefined ? (node.A_Const.ival.ival ?? 0) : null;
  if (k !== null) return k >= 1 && k <= targets.length ? { index: k - 1, byName: true } : null;
  const fields = node.ColumnRef?.fields as Node[] | undefined;
  if (fields?.length === 1 && fields[0]!.String) {
    const name = fields[0]!.String.sval as string;
    const i = targets.findIndex((t) => (t.ResTarget.name ?? (t.ResTarget.val.ColumnRef ? lastField(t.ResTarget.val.ColumnRef) : null)) === name);
    if (i >= 0) return { index: i, byName: true };
  }
  const text = withoutLocations(node);
  const i = targets.findIndex((t) => withoutLocations(t.ResTarget.val) === text);
  return i >= 0 ? { index: i, byName: false } : null;
}

function withoutLocations(n: unknown): string {
  return JSON.stringify(n, (k, v) => (k === 'location' ? undefined : v));
}

function lastField(c: Node): string {
  const f = c.fields as Node[];
  return (f[f.length - 1]!.String?.sval as string | undefined) ?? '*';
}

function funcNameOrNull(fc: Node): string | null {
  const names = (fc.funcname as Node[]).map((n) => n.String?.sval as string);
  return names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog') ? names[names.length - 1]! : null;
}

/** Functions whose value is a float when an argument is (floatColumns). */
const FLOAT_PRESERVING: ReadonlySet<string> = new Set([
  'abs', 'sum', 'min', 'max', 'avg', 'lag', 'lead', 'first_value', 'last_value', 'nth_value', 'ceil', 'ceiling', 'floor', 'round',
  'trunc', 'sign', 'sqrt', 'cbrt', 'exp', 'ln', 'log', 'log10', 'power', 'pow', 'stddev', 'stddev_samp', 'stddev_pop', 'variance',
  'var_samp', 'var_pop', 'corr', 'covar_pop', 'covar_samp', 'greatest', 'least', 'coalesce', 'nullif', 'mod',
]);

/**
 * Names of columns that may be floats: the statement's mirrored table columns DuckDB holds as DOUBLE or
 * FLOAT, and the output columns of its subqueries and CTEs computed from one of those or from a cast to
 * a float type (names taken across all levels: a name too many only adds `+ 0` to a key that is not a
 * float, the same order for numbers, and an error for others that sends the statement to Postgres).
 */
function floatColumns(stmt: Node, input: RewriteInput): ReadonlySet<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const targets: Array<{ name: string; val: Node }> = [];
  const walk = (n: unknown): void => {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(walk);
    const o = n as Node;
    if (o.RangeVar && input.relation) {
      const ref = input.resolve((o.RangeVar.schemaname as string | undefined) ?? null, o.RangeVar.relname);
      if (ref !== null && !seen.has(ref)) {
        seen.add(ref);
        for (const [c, t] of input.relation(ref)?.columns ?? []) if (/^(DOUBLE|FLOAT|REAL)$/i.test(t)) out.add(c);
      }
    }
    if (o.ResTarget?.val) {
      const name = (o.ResTarget.name as string | undefined) ?? (o.ResTarget.val.ColumnRef ? lastField(o.ResTarget.val.ColumnRef) : undefined);
      if (name) targets.push({ name, val: o.ResTarget.val });
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(stmt);
  // an expression whose value may be a float: a float column or cast, or arithmetic, a choice or a
  // value-preserving function over one
  const mayBeFloat = (o: Node | undefined): boolean => {
    if (!o) return false;
    if (o.ColumnRef) return out.has(lastField(o.ColumnRef));
    if (o.TypeCast) return /^(float4|float8)$/.test(castType(o) ?? '');
    if (o.A_Expr) return o.A_Expr.kind === 'AEXPR_OP' && ['+', '-', '*', '/', '%'].includes((o.A_Expr.name as Node[])[0]?.String?.sval) && (mayBeFloat(o.A_Expr.lexpr) || mayBeFloat(o.A_Expr.rexpr));
    if (o.CaseExpr) return (o.CaseExpr.args as Node[]).some((w) => mayBeFloat(w.CaseWhen.result)) || mayBeFloat(o.CaseExpr.defresult);
    if (o.CoalesceExpr || o.MinMaxExpr) return ((o.CoalesceExpr ?? o.MinMaxExpr).args as Node[]).some(mayBeFloat);
    if (o.FuncCall) {
      const name = funcNameOrNull(o.FuncCall) ?? '';
      if (name === 'percentile_cont') return true;
      return FLOAT_PRESERVING.has(name) && ((o.FuncCall.args as Node[] | undefined) ?? []).some(mayBeFloat);
    }
    return false;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of targets) {
      if (out.has(t.name)) continue;
      if (mayBeFloat(t.val)) {
        out.add(t.name);
        changed = true;
      }
    }
  }
  return out;
}

function alias(a: Node | undefined): string {
  if (!a) return '';
  const cols = a.colnames ? '(' + (a.colnames as Node[]).map((c) => q(c.String.sval)).join(', ') + ')' : '';
  return ` AS ${q(a.aliasname)}${cols}`;
}

function fromItem(f: Node, ctx: Ctx): string {
  if (f.RangeVar) {
    const r = f.RangeVar;
    if (r.catalogname) refuse('catalog-qualified name');
    if (r.inh === false) refuse('ONLY');
    if (ctx.pre && r === ctx.pre.plan.fact) {
      // the pre-aggregating subquery goes here once every partial it must compute is known
      const resolved = ctx.input.resolve(r.schemaname ?? null, r.relname);
      if (resolved === null) refuseHere(`relation ${r.schemaname ? r.schemaname + '.' : ''}${r.relname} is not mirrored`);
      ctx.pre.ref = resolved;
      return ctx.pre.placeholder;
    }
    const isCte = !r.schemaname && ctx.ctes.some((s) => s.has(r.relname));
    let ref: string;
    if (isCte) ref = q(r.relname);
    else {
      const resolved = ctx.input.resolve(r.schemaname ?? null, r.relname);
      if (resolved === null) refuseHere(`relation ${r.schemaname ? r.schemaname + '.' : ''}${r.relname} is not mirrored`);
      ref = resolved;
    }
    // Keep the name Postgres would expose (t.col works in both) when there is no alias.
    return ref + (r.alias ? alias(r.alias) : isCte ? '' : ` AS ${q(r.relname)}`);
  }
  if (f.JoinExpr) {
    const j = f.JoinExpr;
    if (j.isNatural) refuse('NATURAL JOIN');
    if (j.join_using_alias) refuse('JOIN USING alias');
    const kind = { JOIN_INNER: 'JOIN', JOIN_LEFT: 'LEFT JOIN', JOIN_RIGHT: 'RIGHT JOIN', JOIN_FULL: 'FULL JOIN' }[j.jointype as string];
    if (!kind) refuse(`join type ${j.jointype}`);
    let out = `${fromItem(j.larg, ctx)} `;
    if (!j.quals && !j.usingClause && j.jointype === 'JOIN_INNER') out += `CROSS JOIN ${fromItem(j.rarg, ctx)}`;
    else {
      out += `${kind} ${fromItem(j.rarg, ctx)}`;
      if (j.usingClause) out += ` USING (${(j.usingClause as Node[]).map((u) => q(u.String.sval)).join(', ')})`;
      else if (j.quals) out += ` ON ${expr(j.quals, ctx)}`;
    }
    if (j.alias) refuse('aliased join');
    return `(${out})`;
  }
  if (f.RangeFunction) return rangeFunction(f.RangeFunction, ctx);
  if (f.RangeSubselect) {
    const r = f.RangeSubselect;
    if (r.lateral) refuse('LATERAL');
    return `(${select(r.subquery.SelectStmt, ctx)})${alias(r.alias)}`;
  }
  return refuse(`FROM item ${Object.keys(f)[0]}`);
}

/** The type a typed literal or cast names ('date', 'timestamptz', …), else null. */
function castType(n: Node | undefined): string | null {
  const names: Node[] | undefined = n?.TypeCast?.typeName?.names;
  return names ? ((names[names.length - 1]!.String?.sval as string | undefined) ?? null) : null;
}

/**
 * generate_series in FROM, for calendar spines and number ranges. Postgres picks the variant from its
 * arguments' types, which are written out here: integers (constants), or typed datetimes. Dates are
 * promoted to timestamptz (the preferred type of the category: Postgres's series is then timestamptz,
 * stepping in the session TimeZone, as DuckDB's TIMESTAMPTZ series does under the connection's zone).
 * The column is named after the alias, as Postgres names a scalar function's column.
 */
function rangeFunction(r: Node, ctx: Ctx): string {
  if (r.lateral || r.ordinality || r.is_rowsfrom || r.coldeflist) refuse('LATERAL/ORDINALITY/ROWS FROM/column definitions');
  const fns = r.functions as Node[];
  const fc = fns?.length === 1 ? (fns[0]!.List?.items?.[0]?.FuncCall as Node | undefined) : undefined;
  if (!fc || funcName(fc) !== 'generate_series') refuse('function in FROM other than generate_series');
  const args: Node[] = fc.args ?? [];
  if (args.length < 2 || args.length > 3 || fc.agg_star || fc.agg_distinct || fc.func_variadic) refuse('generate_series arguments');
  let sql: string;
  if (args.every((a) => intConstant(a) !== null)) sql = `generate_series(${args.map((a) => String(intConstant(a))).join(', ')})`;
  else {
    const [a, b, step] = args.map(castType);
    const tz = (t: string | null) => t === 'date' || t === 'timestamptz';
    let target: string;
    if (tz(a ?? null) && tz(b ?? null)) target = 'TIMESTAMPTZ';
    else if (a === 'timestamp' && b === 'timestamp') target = 'TIMESTAMP';
    else return refuse('generate_series over other than integer constants or typed dates/timestamps');
    if (step !== 'interval') refuse('generate_series step that is not a typed interval');
    sql = `generate_series(CAST(${expr(args[0]!, ctx)} AS ${target}), CAST(${expr(args[1]!, ctx)} AS ${target}), ${expr(args[2]!, ctx)})`;
  }
  const al = r.alias as Node | undefined;
  const name = al?.aliasname ?? 'generate_series';
  const cols = al?.colnames as Node[] | undefined;
  if (cols && cols.length !== 1) refuse('generate_series with more than one column name');
  return `${sql} AS ${q(name)}(${q(cols ? cols[0]!.String.sval : name)})`;
}

function columnRef(c: Node): string {
  let fields = c.fields as Node[];
  // schema.table.column (Metabase writes "public"."t"."c"): an unaliased FROM item is exposed under its
  // bare table name (see fromItem), which DuckDB does not match against a schema-qualified reference.
  // Postgres has resolved the reference already (Describe), so the schema qualifier can be dropped.
  if (fields.length === 3) fields = fields.slice(1);
  else if (fields.length > 3) refuse('column reference with a catalog name');
  return fields.map((f) => (f.A_Star ? '*' : q(f.String.sval))).join('.');
}

function funcName(fc: Node): string {
  const names = (fc.funcname as Node[]).map((n) => n.String.sval as string);
  if (names.length === 2 && names[0] !== 'pg_catalog') refuse(`function ${names.join('.')}`);
  if (names.length > 2) refuse('function name');
  return names[names.length - 1]!;
}

function constant(c: Node): string {
  if (c.isnull) return 'NULL';
  if (c.ival !== undefined) return String(c.ival.ival ?? 0);
  if (c.fval !== undefined) {
    const v = c.fval.fval as string;
    if (!/^[0-9.]+(e[+-]?[0-9]+)?$/i.test(v)) refuse('numeric literal form');
    // Postgres: a literal with a point or exponent is numeric; DuckDB reads 1e3 as DOUBLE.
    if (/e/i.test(v)) refuse('exponent literal');
    return v;
  }
  if (c.sval !== undefined) return lit(c.sval.sval ?? '');
  if (c.boolval !== undefined) return c.boolval.boolval ? 'true' : 'false';
  return refuse('constant kind');
}

/**
 * A bytea literal as Postgres's byteain reads it (varlena.c): '\x' then pairs of hex digits (whitespace
 * between pairs), else the escape format ('\\' a backslash, '\ooo' an octal byte, any other character
 * its UTF-8 bytes). null where Postgres raises an error.
 */
export function pgByteaInput(text: string): Buffer | null {
  if (text.startsWith('\\x')) {
    const out: number[] = [];
    const h = text.slice(2);
    for (let i = 0; i < h.length; ) {
      if (/[ \t\n\r\f\v]/.test(h[i]!)) {
        i++;
        continue;
      }
      const pair = h.slice(i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(pair)) return null;
      out.push(parseInt(pair, 16));
      i += 2;
    }
    return Buffer.from(out);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '\\') {
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out.push(Buffer.from(ch, 'utf8'));
      i += ch.length;
      continue;
    }
    if (text[i + 1] === '\\') {
      out.push(Buffer.from([0x5c]));
      i += 2;
      continue;
    }
    const oct = text.slice(i + 1, i + 4);
    if (!/^[0-3][0-7]{2}$/.test(oct)) return null;
    out.push(Buffer.from([parseInt(oct, 8)]));
    i += 4;
  }
  return Buffer.concat(out);
}

function stringConst(n: Node): string | null {
  readConstant = true;
  return n?.A_Const?.sval !== undefined ? (n.A_Const.sval.sval ?? '') : null;
}

const binaryOps = new Set(['+', '-', '*', '=', '<>', '!=', '<', '>', '<=', '>=', '||']);

function expr(n: Node, ctx: Ctx): string {
  // float4.ts: a float4 operand Postgres widens to float8, a numeric constant it reads as float8/float4
  const as = ctx.f4?.constAs.get(n);
  if (as) return `CAST(${lit(n.A_Const.fval.fval as string)} AS ${as})`;
  const sql = exprBody(n, ctx);
  return ctx.f4?.widen.has(n) ? `CAST(${sql} AS DOUBLE)` : sql;
}

function exprBody(n: Node, ctx: Ctx): string {
  const key = Object.keys(n)[0]!;
  const v = n[key] as Node;
  switch (key) {
    case 'A_Const':
      return constant(v);
    case 'ColumnRef':
      return columnRef(v);
    case 'ParamRef': {
      const oid = ctx.input.paramTypeOids?.[v.number - 1];
      if (oid === undefined || oid === 0) return `$${v.number}`;
      const t = duckTypeForOid(oid);
      if (!t) refuse(`parameter type OID ${oid}`);
      // A numeric parameter's scale is known only from its value: it is bound only where the value alone
      // decides, compared with an integer or numeric column (float4.ts), as DECIMAL(38,10) (a value
      // with more digits goes to Postgres, params.ts)
      if (oid === Oid.numeric && !ctx.f4?.numericParams.has(n)) refuse('numeric parameter other than compared with an integer or numeric column');
      return `CAST($${v.number} AS ${t})`;
    }
    case 'TypeCast': {
      const t = duckTypeName(v.typeName);
      if (t === 'VARCHAR' && stringConst(v.arg) === null) refuse('cast to text of a non-literal');
      if (t === 'BLOB') {
        // DuckDB reads a string as a BLOB in its own escape format ('\x0c' is one byte, every other
        // character itself), Postgres in hex ('\x0000000c' is four bytes) or its escape format: the
        // literal is decoded here as Postgres does and shipped as hex.
        const text = stringConst(v.arg);
        if (text === null) refuse('cast to bytea of a non-literal');
        const bytes = pgByteaInput(text);
        if (bytes === null) refuse('bytea literal Postgres would reject');
        return `from_hex(${lit(bytes.toString('hex'))})`;
      }
      if (t.startsWith('DECIMAL') && !v.arg?.A_Const) {
        // Postgres rounds the exact value (a float through its 15-digit text, numeric division and
        // avg at their exact scale); DuckDB rounds a DOUBLE's binary value, or reads text its own way:
        // (x / 1)::numeric(10,2) of 1.005 is 1.01 in Postgres, 1.00 from a DOUBLE. Only integers and
        // decimals are cast; anything else raises, which sends the statement to Postgres.
        const a = expr(v.arg, ctx);
        return `CASE WHEN typeof(${a}) NOT LIKE 'DECIMAL%' AND typeof(${a}) NOT IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', '"NULL"') THEN error('duckgate: only integers and decimals are cast to numeric alike') ELSE CAST(${a} AS ${t}) END`;
      }
      return `CAST(${expr(v.arg, ctx)} AS ${t})`;
    }
    case 'A_Expr':
      return aExpr(v, ctx);
    case 'BoolExpr': {
      const args = (v.args as Node[]).map((a) => `(${expr(a, ctx)})`);
      if (v.boolop === 'NOT_EXPR') return `NOT ${args[0]}`;
      return args.join(v.boolop === 'AND_EXPR' ? ' AND ' : ' OR ');
    }
    case 'NullTest':
      return `(${expr(v.arg, ctx)}) IS ${v.nulltesttype === 'IS_NOT_NULL' ? 'NOT ' : ''}NULL`;
    case 'BooleanTest': {
      const m: Record<string, string> = { IS_TRUE: 'IS TRUE', IS_NOT_TRUE: 'IS NOT TRUE', IS_FALSE: 'IS FALSE', IS_NOT_FALSE: 'IS NOT FALSE', IS_UNKNOWN: 'IS NULL', IS_NOT_UNKNOWN: 'IS NOT NULL' };
      return `(${expr(v.arg, ctx)}) ${m[v.booltesttype as string] ?? refuse('boolean test')}`;
    }
    case 'CaseExpr': {
      let out = 'CASE';
      if (v.arg) out += ' ' + expr(v.arg, ctx);
      for (const w of v.args as Node[]) out += ` WHEN ${expr(w.CaseWhen.expr, ctx)} THEN ${expr(w.CaseWhen.result, ctx)}`;
      if (v.defresult) out += ` ELSE ${expr(v.defresult, ctx)}`;
      return out + ' END';
    }
    case 'CoalesceExpr':
      return `coalesce(${(v.args as Node[]).map((a) => expr(a, ctx)).join(', ')})`;
    case 'MinMaxExpr': {
      // Postgres's GREATEST/LEAST keep the first non-NULL value and replace it by each later one that
      // compares greater (less) with the type's comparison operator (execExprInterp.c
      // ExecEvalMinMax), NULL only if all are. DuckDB's greatest/least compare some types otherwise
      // (an interval field by field: greatest('1 day', '30:00:00') is '1 day', Postgres's '30:00:00'),
      // its < and > as Postgres: written out with them. Each argument is repeated, so at most three.
      const args = (v.args as Node[]).map((a) => expr(a, ctx));
      if (args.length > 3) refuse(`${v.op === 'IS_GREATEST' ? 'greatest' : 'least'} of more than three arguments`);
      const cmp = v.op === 'IS_GREATEST' ? '>' : '<';
      const pick = (x: string, y: string): string => `(CASE WHEN (${x}) IS NULL THEN (${y}) WHEN (${y}) IS NOT NULL AND (${y}) ${cmp} (${x}) THEN (${y}) ELSE (${x}) END)`;
      return args.slice(1).reduce((acc, y) => pick(acc, y), args[0]!);
    }
    case 'FuncCall':
      return funcCall(v, ctx);
    case 'SQLValueFunction': {
      // CURRENT_DATE, CURRENT_TIMESTAMP, LOCALTIMESTAMP: constants of the statement (calendar.ts). With a
      // precision they round; CURRENT_TIME/LOCALTIME are time types: to Postgres.
      const fn: Record<string, string> = { SVFOP_CURRENT_DATE: 'dg_current_date()', SVFOP_CURRENT_TIMESTAMP: 'dg_now()', SVFOP_LOCALTIMESTAMP: 'dg_localtimestamp()' };
      const out = fn[v.op as string];
      if (!out) refuse(`SQL value function ${v.op}`);
      ctx.clock = true;
      return out;
    }
    case 'SubLink':
      return subLink(v, ctx);
    case 'GroupingFunc':
      // grouping(a, b): the bit mask of the arguments the current grouping set leaves out, first
      // argument the most significant bit, in both (int4 in Postgres, aligned from DuckDB's BIGINT)
      return `grouping(${((v.args ?? []) as Node[]).map((a) => expr(a, ctx)).join(', ')})`;
    case 'List':
      return (v.items as Node[]).map((a) => expr(a, ctx)).join(', ');
    default:
      return refuse(`expression ${key}`);
  }
}

/**
 * Postgres's lower()/upper() under the C ctype change ASCII letters only (DuckDB's change all of
 * Unicode: lower('ÉCOLE') is 'École' in Postgres, 'école' in DuckDB). The engine runs statements that
 * map case (RewriteResult.caseMapping) only for databases whose LC_CTYPE is C or POSIX.
 */
const UPPER_ASCII = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER_ASCII = 'abcdefghijklmnopqrstuvwxyz';
const asciiLower = (x: string): string => `translate(${x}, '${UPPER_ASCII}', '${LOWER_ASCII}')`;
const asciiUpper = (x: string): string => `translate(${x}, '${LOWER_ASCII}', '${UPPER_ASCII}')`;

/** A number, or a cast of a constant to a number or interval type: subtracting it never takes two instants. */
function isOffsetLiteral(n: Node): boolean {
  const c = n?.A_Const;
  if (c) return c.ival !== undefined || c.fval !== undefined;
  const tc = n?.TypeCast;
  if (!tc || tc.arg?.A_Const === undefined) return false;
  const names: string[] = (tc.typeName?.names ?? []).map((x: Node) => x.String?.sval as string);
  return /^(interval|int2|int4|int8|smallint|integer|int|bigint|numeric|decimal|float4|float8|real)$/.test(names[names.length - 1] ?? '');
}

/** How deep guarded float operations may nest: each level copies its operands into its checks. */
const MAX_FLOAT_GUARD_DEPTH = 2;

/** The float columns of the statement's tables (by name), from DuckDB's column types (RewriteInput.relation). */
function floatFacts(ctx: Ctx): NonNullable<Ctx['floats']> {
  if (ctx.floats) return ctx.floats;
  const f = { float: new Set<string>(), known: new Set<string>(), complete: true };
  const seen = new Set<string>();
  const cteNames = new Set<string>();
  anyNode(ctx.tree, (o) => {
    if (o.CommonTableExpr?.ctename) cteNames.add(o.CommonTableExpr.ctename as string);
    return false;
  });
  anyNode(ctx.tree, (o) => {
    const r = o.RangeVar as Node | undefined;
    if (!r) return false;
    if (!r.schemaname && cteNames.has(r.relname)) return false;
    const ref = ctx.input.resolve(r.schemaname ?? null, r.relname);
    const facts = ref === null ? undefined : ctx.input.relation?.(ref);
    if (!facts) {
      f.complete = false;
      return false;
    }
    if (seen.has(ref!)) return false;
    seen.add(ref!);
    for (const [name, type] of facts.columns) {
      f.known.add(name);
      if (/^(FLOAT|DOUBLE|REAL|FLOAT4|FLOAT8)(\[\])*$/i.test(type)) f.float.add(name);
    }
    return false;
  });
  ctx.floats = f;
  return f;
}

const FLOAT_FUNCTIONS = new Set([
  'sqrt', 'exp', 'ln', 'power', 'stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop', 'corr', 'covar_pop',
  'covar_samp', 'percentile_cont', 'percent_rank', 'cume_dist', 'date_part', 'avg',
]);
const NOT_FLOAT_FUNCTIONS = new Set(['count', 'row_number', 'rank', 'dense_rank', 'ntile', 'length', 'char_length', 'character_length', 'strpos', 'position', 'extract', 'date_trunc', 'to_char']);

/**
 * Whether DuckDB may compute this expression as a FLOAT or DOUBLE (false only when that is certain): a
 * column of float type (or of a derived table, or of a table whose types are unknown), a cast to float,
 * a parameter of float type, a function returning float8, or anything built on those.
 */
function mayBeFloat(n: unknown, ctx: Ctx): boolean {
  if (n === null || typeof n !== 'object') return false;
  if (Array.isArray(n)) return n.some((x) => mayBeFloat(x, ctx));
  const o = n as Node;
  if (o.A_Const || o.SQLValueFunction || o.BoolExpr || o.NullTest || o.BooleanTest) return false;
  if (o.ColumnRef) {
    const fields = o.ColumnRef.fields as Node[];
    const last = fields[fields.length - 1]!;
    if (last.A_Star) return true;
    const name = last.String.sval as string;
    const f = floatFacts(ctx);
    return !f.complete || f.float.has(name) || !f.known.has(name);
  }
  if (o.TypeCast) {
    const names: Node[] = o.TypeCast.typeName?.names ?? [];
    const t = (names[names.length - 1]?.String?.sval as string | undefined) ?? '';
    return /^(float4|float8|real|double|float)$/.test(t) || (o.TypeCast.typeName?.arrayBounds?.length ?? 0) > 0;
  }
  if (o.ParamRef) {
    const oid = ctx.input.paramTypeOids?.[(o.ParamRef.number as number) - 1];
    return oid === undefined || oid === 0 || oid === Oid.float4 || oid === Oid.float8;
  }
  if (o.FuncCall) {
    const names = (o.FuncCall.funcname as Node[]).map((x) => x.String?.sval as string);
    const name = names[names.length - 1] ?? '';
    if (FLOAT_FUNCTIONS.has(name)) return true;
    if (NOT_FLOAT_FUNCTIONS.has(name)) return false;
    return mayBeFloat(o.FuncCall.args ?? [], ctx);
  }
  if (o.A_Expr) return mayBeFloat([o.A_Expr.lexpr ?? null, o.A_Expr.rexpr ?? null], ctx);
  if (o.CaseExpr) return mayBeFloat([...((o.CaseExpr.args as Node[]) ?? []).map((w) => w.CaseWhen.result), o.CaseExpr.defresult ?? null], ctx);
  if (o.CoalesceExpr || o.MinMaxExpr) return mayBeFloat((o.CoalesceExpr ?? o.MinMaxExpr).args, ctx);
  if (o.List) return mayBeFloat(o.List.items, ctx);
  // a scalar subquery, a row, anything else: not known
  return true;
}

/** An arithmetic operator one of whose operands may be float (Postgres raises on overflow there). */
function floatOperation(v: Node, ctx: Ctx): boolean {
  return mayBeFloat(v.lexpr, ctx) || mayBeFloat(v.rexpr, ctx);
}

/** op(l, r) through a guard macro of engine.ts (dg_fadd/dg_fsub/dg_fmul/dg_fdiv). */
function guardedFloat(macro: string, v: Node, ctx: Ctx, args: (a: string, b: string) => string): string {
  const depth = ctx.floatDepth ?? 0;
  if (depth >= MAX_FLOAT_GUARD_DEPTH) refuse('float arithmetic nested too deep for its overflow checks');
  ctx.floatDepth = depth + 1;
  try {
    return `${macro}(${args(expr(v.lexpr, ctx), expr(v.rexpr, ctx))})`;
  } finally {
    ctx.floatDepth = depth;
  }
}

function aExpr(v: Node, ctx: Ctx): string {
  const op = (v.name as Node[]).map((x) => x.String.sval).join('.');
  // the capability list (router/capabilities.ts): an operator it does not ship is refused whatever its form
  const cap = OPERATOR_CAPABILITIES.get(op);
  if (!cap || cap.ship === 'never') refuse(`operator ${op}`);
  const l = (): string => (v.lexpr ? `(${expr(v.lexpr, ctx)})` : '');
  const r = () => `(${expr(v.rexpr, ctx)})`;
  switch (v.kind) {
    case 'AEXPR_OP':
      if (op === '/' || op === '%') {
        if (containsSum(v.lexpr) || containsSum(v.rexpr)) refuse('division of sum() (int8 sum is numeric in Postgres)');
        if (op === '/' && v.lexpr && floatOperation(v, ctx)) return guardedFloat('dg_fdiv', v, ctx, (a, b) => `${a}, ${b}, (${a} / dg_nz(${b}))`);
        return `(${l()} ${op} dg_nz(${r()}))`;
      }
      // || joins the text of its operands: dg_text() lets only types DuckDB prints as Postgres through
      if (op === '||') return `(dg_text(${l()}) || dg_text(${r()}))`;
      // x - <number or interval literal> is the same everywhere; anything else may be timestamptz -
      // timestamptz, which the engine runs only under zones without DST (RewriteResult.subtractsValues)
      if (op === '-' && v.lexpr && !isOffsetLiteral(v.rexpr)) ctx.subtractsValues = true;
      // float + - * raise where Postgres's float8pl/mi/mul (float.c) raise: 22003 on overflow (and on
      // underflow to 0 for *), where DuckDB gives Infinity or 0
      const guard = ({ '+': 'dg_fadd', '-': 'dg_fsub', '*': 'dg_fmul' } as Record<string, string>)[op];
      if (guard && v.lexpr && floatOperation(v, ctx)) return guardedFloat(guard, v, ctx, (a, b) => `${a}, ${b}`);
      if (binaryOps.has(op)) return v.lexpr ? `(${l()} ${op} ${r()})` : `(${op} ${r()})`;
      if (op === '~' || op === '~*' || op === '!~' || op === '!~*') {
        const neg = op.startsWith('!');
        // Only a constant pattern written in the part of the syntax both engines read alike is shipped
        // (see regexRefusal); the pattern is then passed as that constant.
        const pattern = stringConst(v.rexpr);
        if (pattern === null) refuse(`${op} with a pattern that is not a constant`);
        const bad = regexRefusal(pattern);
        if (bad) refuse(`${op} pattern: ${bad}`);
        // Postgres's regex '.' matches a newline (not newline-sensitive by default); RE2's does
        // not unless the 's' option is given.
        if (!op.endsWith('*')) return `(${neg ? 'NOT ' : ''}regexp_matches(${l()}, ${lit(pattern)}, 's'))`;
        // Case-insensitive: Postgres under the C ctype folds ASCII letters only, RE2's 'i' all of
        // Unicode. Lower-casing text and pattern the ASCII way and matching case-sensitively is the
        // same match while the pattern's letters are plain letters: not in an escape like \D, a
        // [:class:], or a bracket expression with upper-case letters (a range like [A-z]).
        if (pattern.includes('[') && /[A-Z]/.test(pattern))
          refuse('~* with a pattern other than a constant of plain letters');
        ctx.caseMapping = true;
        return `(${neg ? 'NOT ' : ''}regexp_matches(${asciiLower(l())}, ${lit(pattern.replace(/[A-Z]/g, (c) => c.toLowerCase()))}, 's'))`;
      }
      return refuse(`operator ${op}`);
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE': {
      const neg = op.startsWith('!');
      if (v.kind === 'AEXPR_LIKE') return `(${neg ? 'NOT ' : ''}like_escape(${l()}, ${r()}, '\\'))`;
      // ILIKE is LIKE over lower() of both sides (like.c, Generic_Text_IC_like, multibyte case)
      ctx.caseMapping = true;
      return `(${neg ? 'NOT ' : ''}like_escape(${asciiLower(l())}, ${asciiLower(r())}, '\\'))`;
    }
    case 'AEXPR_IN':
      return `(${l()} ${op === '<>' ? 'NOT IN' : 'IN'} (${expr(v.rexpr, ctx)}))`;
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL': {
      // x = ANY(ARRAY[c1, …]) is x IN (c1, …) and x <> ALL(ARRAY[…]) is x NOT IN (…), NULLs included
      // (true if one comparison is, else NULL if one is NULL, else false; Postgres's transformAExprIn
      // itself turns IN into = ANY). Only a non-empty ARRAY[...] of constants: an array value or
      // parameter, or elements of mixed types, are typed as an array, which is not translated.
      const items = v.rexpr?.A_ArrayExpr ? ((v.rexpr.A_ArrayExpr.elements ?? []) as Node[]) : [];
      const consts = items.length > 0 && items.every((x) => x.A_Const && !x.A_Const.isnull);
      const kinds = new Set(items.map((x) => (x.A_Const?.sval ? 's' : x.A_Const?.fval ? 'f' : x.A_Const?.ival ? 'i' : 'other')));
      if (!consts || kinds.size !== 1) refuse(`${op} ${v.kind === 'AEXPR_OP_ANY' ? 'ANY' : 'ALL'} of other than an ARRAY[...] of constants of one kind`);
      const list = items.map((x) => expr(x, ctx)).join(', ');
      if (v.kind === 'AEXPR_OP_ANY' && op === '=') return `(${l()} IN (${list}))`;
      if (v.kind === 'AEXPR_OP_ALL' && op === '<>') return `(${l()} NOT IN (${list}))`;
      return refuse(`${op} ${v.kind === 'AEXPR_OP_ANY' ? 'ANY' : 'ALL'} (array)`);
    }
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN': {
      const [a, b] = (v.rexpr.List.items as Node[]).map((x) => `(${expr(x, ctx)})`);
      return `(${l()} ${v.kind === 'AEXPR_NOT_BETWEEN' ? 'NOT ' : ''}BETWEEN ${a} AND ${b})`;
    }
    case 'AEXPR_NULLIF':
      return `nullif(${l()}, ${r()})`;
    case 'AEXPR_DISTINCT':
      return `(${l()} IS DISTINCT FROM ${r()})`;
    case 'AEXPR_NOT_DISTINCT':
      return `(${l()} IS NOT DISTINCT FROM ${r()})`;
    default:
      return refuse(`expression kind ${v.kind}`);
  }
}

/**
 * Why a regular expression may not mean the same to Postgres (ARE, regcomp.c) and DuckDB (RE2), or null
 * when it is written only with what both read alike, for a match/no-match test: literal characters,
 * `\` before a character that is not a letter or digit (a literal in both), `.`, `^`, `$` (string
 * start/end in both without the newline-sensitive flags), `|`, groups `( )`, the quantifiers `* + ?`
 * and `{m}`, `{m,}`, `{m,n}` (m, n ≤ 255, Postgres's limit), and bracket expressions of literal
 * characters and ranges. Everything else is refused: every escape with a letter or digit (`\b` is a
 * backspace and `\B` a backslash in Postgres, word boundaries in RE2; `\w`, `\d`, `\s` follow the
 * locale in Postgres and ASCII in RE2; `\y`, `\m`, `\M`, `\A`, `\Z`, back-references, `\x` and `\u` codes),
 * `(?` (embedded options, lookahead), a `***` director, `[:class:]`, `[.x.]`, `[=x=]` and escapes
 * inside brackets, and a `{` that is not a bounded quantifier (a literal in RE2, an error in Postgres).
 */
export function regexRefusal(pattern: string): string | null {
  if (pattern.startsWith('***')) return 'an ARE director (***)';
  let inBracket = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (inBracket) {
      if (c === '\\') return 'an escape inside a bracket expression';
      if (c === '[' && /[:.=]/.test(pattern[i + 1] ?? '')) return 'a character class or collating element';
      if (c === ']') inBracket = false;
      continue;
    }
    switch (c) {
      case '\\': {
        const next = pattern[i + 1];
        if (next === undefined) return 'a trailing backslash';
        if (/[A-Za-z0-9]/.test(next)) return `the escape \\${next}`;
        if (next.charCodeAt(0) > 127) return 'an escaped non-ASCII character';
        i++;
        break;
      }
      case '[': {
        inBracket = true;
        // a ']' right after '[' or '[^' is a literal, not the end: not worth telling apart
        if (pattern[i + 1] === '^') i++;
        if (pattern[i + 1] === ']') return 'a bracket expression starting with ]';
        break;
      }
      case '(':
        if (pattern[i + 1] === '?') return 'a (? construct';
        break;
      case '{': {
        const m = /^\{(\d{1,3})(,(\d{1,3})?)?\}/.exec(pattern.slice(i));
        if (!m) return 'a { that is not a bounded quantifier';
        if (Number(m[1]) > 255 || (m[3] !== undefined && (Number(m[3]) > 255 || Number(m[3]) < Number(m[1])))) return 'a quantifier bound beyond 255';
        i += m[0].length - 1;
        break;
      }
      default:
        break;
    }
  }
  if (inBracket) return 'an unterminated bracket expression';
  return null;
}

function containsSum(n: unknown): boolean {
  return anyNode(n, (o) => !!o.FuncCall && (o.FuncCall.funcname as Node[]).some((x) => x.String?.sval === 'sum'));
}

function subLink(v: Node, ctx: Ctx): string {
  const sub = `(${select(v.subselect.SelectStmt, ctx)})`;
  switch (v.subLinkType) {
    case 'EXISTS_SUBLINK':
      return `EXISTS ${sub}`;
    case 'EXPR_SUBLINK':
      return sub;
    case 'ANY_SUBLINK': {
      const op = v.operName ? (v.operName as Node[]).map((x) => x.String.sval).join('') : '=';
      if (op !== '=') refuse('op ANY (subquery)');
      return `((${expr(v.testexpr, ctx)}) IN ${sub})`;
    }
    default:
      return refuse(`subquery kind ${v.subLinkType}`);
  }
}

function over(w: Node, ctx: Ctx): string {
  if (w.name || w.refname) refuse('named window');
  const parts: string[] = [];
  // a float partition key is sorted on too (see sortBy): -0 and 0 are one partition in both
  const partitionKey = (e: Node): string => (e.ColumnRef && ctx.floatColumns.has(lastField(e.ColumnRef)) ? `(${expr(e, ctx)} + 0)` : expr(e, ctx));
  if (w.partitionClause) parts.push('PARTITION BY ' + (w.partitionClause as Node[]).map(partitionKey).join(', '));
  if (w.orderClause) parts.push('ORDER BY ' + (w.orderClause as Node[]).map((b) => sortBy(b.SortBy, ctx)).join(', '));
  const frame = frameClause(w, ctx);
  if (frame) parts.push(frame);
  return ` OVER (${parts.join(' ')})`;
}

// FRAMEOPTION_* bits (nodes/parsenodes.h, PostgreSQL 15)
const FO = {
  NONDEFAULT: 0x1, RANGE: 0x2, ROWS: 0x4, GROUPS: 0x8, BETWEEN: 0x10,
  START_UNBOUNDED_PRECEDING: 0x20, END_UNBOUNDED_PRECEDING: 0x40, START_UNBOUNDED_FOLLOWING: 0x80, END_UNBOUNDED_FOLLOWING: 0x100,
  START_CURRENT_ROW: 0x200, END_CURRENT_ROW: 0x400, START_OFFSET_PRECEDING: 0x800, END_OFFSET_PRECEDING: 0x1000,
  START_OFFSET_FOLLOWING: 0x2000, END_OFFSET_FOLLOWING: 0x4000, EXCLUDE_CURRENT_ROW: 0x8000, EXCLUDE_GROUP: 0x10000, EXCLUDE_TIES: 0x20000,
} as const;

/**
 * An explicit frame (SQL:2011 window frames, as PostgreSQL 11+ and DuckDB both implement them):
 * - ROWS and GROUPS with non-negative integer constant offsets (GROUPS counts peer groups; NULLs of the
 *   ORDER BY key form one peer group in both);
 * - RANGE between UNBOUNDED/CURRENT ROW, or with an offset that is a non-negative integer constant or a
 *   constant interval: the frame holds the rows whose key lies within the offset (in_range in Postgres;
 *   a NULL key's frame is its NULL peers in both; a key type without in_range, such as text, is an error
 *   in both). An interval offset added to a timestamptz key moves across days in the session's time zone,
 *   so it is run only under zones without DST, as a subtraction of two values is;
 * - EXCLUDE CURRENT ROW / GROUP / TIES / NO OTHERS.
 * Both engines read a single bound as "bound AND CURRENT ROW" (Postgres sets END_CURRENT_ROW), written
 * out here. Null for the default.
 */
function frameClause(w: Node, ctx: Ctx): string | null {
  const o = (w.frameOptions ?? 0) as number;
  if (!(o & FO.NONDEFAULT)) return null;
  const mode = o & FO.ROWS ? 'ROWS' : o & FO.GROUPS ? 'GROUPS' : o & FO.RANGE ? 'RANGE' : refuse('frame mode');
  const offset = (n: Node | undefined): string => {
    const v = intConstant(n);
    if (v !== null) {
      if (v < 0) refuse('negative frame offset'); // Postgres's error (22013)
      return String(v);
    }
    const tc = n?.TypeCast;
    if (mode === 'RANGE' && tc && stringConst(tc.arg) !== null && duckTypeName(tc.typeName) === 'INTERVAL') {
      ctx.subtractsValues = true;
      return expr(n, ctx);
    }
    return refuse('frame offset other than a non-negative integer constant (or a constant interval for RANGE)');
  };
  const bound = (side: 'START' | 'END'): string => {
    const has = (k: string) => (o & (FO as Record<string, number>)[`${side}_${k}`]!) !== 0;
    if (has('UNBOUNDED_PRECEDING')) return 'UNBOUNDED PRECEDING';
    if (has('UNBOUNDED_FOLLOWING')) return 'UNBOUNDED FOLLOWING';
    if (has('CURRENT_ROW')) return 'CURRENT ROW';
    if (has('OFFSET_PRECEDING')) return `${offset(side === 'START' ? w.startOffset : w.endOffset)} PRECEDING`;
    if (has('OFFSET_FOLLOWING')) return `${offset(side === 'START' ? w.startOffset : w.endOffset)} FOLLOWING`;
    return refuse('frame bound');
  };
  const exclude =
    o & FO.EXCLUDE_CURRENT_ROW ? ' EXCLUDE CURRENT ROW' : o & FO.EXCLUDE_GROUP ? ' EXCLUDE GROUP' : o & FO.EXCLUDE_TIES ? ' EXCLUDE TIES' : '';
  return `${mode} BETWEEN ${bound('START')} AND ${bound('END')}${exclude}`;
}

// to_char(datetime, format) patterns translated (formatting.c, PostgreSQL 15), longest first. Each is
// a DuckDB strftime conversion, blank-padded to 9 characters where Postgres pads (Month, Day: the
// longest English name; FM suppresses the padding). Postgres's names are English, as strftime's.
const toCharPatterns: ReadonlyArray<{ pat: string; fmt: string; pad?: number; time?: boolean }> = [
  { pat: 'FMMonth', fmt: '%B' },
  { pat: 'FMDay', fmt: '%A' },
  { pat: 'Month', fmt: '%B', pad: 9 },
  { pat: 'Mon', fmt: '%b' },
  { pat: 'Day', fmt: '%A', pad: 9 },
  { pat: 'Dy', fmt: '%a' },
  { pat: 'YYYY', fmt: '%Y' },
  { pat: 'HH24', fmt: '%H', time: true },
  { pat: 'MM', fmt: '%m' },
  { pat: 'DD', fmt: '%d' },
  { pat: 'MI', fmt: '%M', time: true },
  { pat: 'SS', fmt: '%S', time: true },
];

/**
 * to_char(x, 'constant format') for dates, timestamps and timestamptz (in the session TimeZone, which
 * the connection carries), as a concatenation of strftime pieces. Any letter outside the patterns
 * above refuses the statement (Postgres reads many letters as patterns: DDD, YY, Q, IW, AM, …).
 * - A date is formatted by Postgres as timestamptz (local midnight): with time fields it is cast so.
 * - ±infinity gives NULL in Postgres.
 * - YYYY is 4 digits, zero-padded (as %Y); years outside 1..9999 (BC, 5 digits) raise an error in
 *   DuckDB, so such a statement falls back to Postgres.
 */
function toChar(args: Node[], ctx: Ctx): string {
  if (args.length !== 2) refuse('to_char with other than two arguments');
  const format = stringConst(args[1]!);
  if (format === null) refuse('to_char with a non-constant format');
  const parts: string[] = [];
  let literal = '';
  let time = false;
  for (let i = 0; i < format.length; ) {
    const m = toCharPatterns.find((p) => format.startsWith(p.pat, i));
    if (m) {
      if (/[A-Za-z]/.test(format[i + m.pat.length] ?? '') && !toCharPatterns.some((p) => format.startsWith(p.pat, i + m.pat.length)))
        refuse(`to_char pattern ${format.slice(i)}`);
      if (m.pat === 'DD' && format[i + 2] === 'D') refuse('to_char pattern DDD');
      if (literal) parts.push(lit(literal));
      literal = '';
      time ||= m.time === true;
      parts.push(m.pad ? `rpad(strftime(x, ${lit(m.fmt)}), ${m.pad}, ' ')` : `strftime(x, ${lit(m.fmt)})`);
      i += m.pat.length;
      continue;
    }
    const ch = format[i]!;
    if (!/^[-/ :.,_|()]$/.test(ch)) refuse(`to_char format character ${ch}`);
    literal += ch;
    i++;
  }
  if (literal) parts.push(lit(literal));
  if (parts.length === 0) return `''`;
  const src = `(${expr(args[0]!, ctx)})`;
  const text = (x: string): string => {
    const body = parts.map((p) => p.replace(/strftime\(x,/g, `strftime(${x},`)).join(' || ');
    return `CASE WHEN NOT isfinite(${x}) THEN NULL WHEN year(${x}) < 1 OR year(${x}) > 9999 THEN error('to_char: year outside 1..9999') ELSE ${body} END`;
  };
  // typeof() is fixed when DuckDB binds: one branch survives (both are text, so neither is converted).
  return time ? `(CASE WHEN typeof(${src}) = 'DATE' THEN ${text(`CAST(${src} AS TIMESTAMPTZ)`)} ELSE ${text(src)} END)` : `(${text(src)})`;
}

/**
 * percentile_cont / percentile_disc (fraction) WITHIN GROUP (ORDER BY x), one constant fraction in [0, 1]
 * and an ascending sort (orderedsetaggs.c, PostgreSQL 15):
 * - percentile_disc: the value at row max(ceil(p * n), 1) of the sorted non-NULL values (p * n in
 *   float8); DuckDB's quantile_disc with a DOUBLE fraction picks the same row.
 * - percentile_cont: float8; with pos = p * (n - 1), lo/hi the values at rows floor(pos)/ceil(pos) (0-based),
 *   lo when they are the same row, else lo + (pos - floor(pos)) * (hi - lo). DuckDB's quantile_cont
 *   interpolates differently in the last bits, so the formula is written out over the sorted list.
 */
function orderedSetAggregate(name: string, fc: Node, ctx: Ctx): string {
  if (name !== 'percentile_cont' && name !== 'percentile_disc') refuse(`${name} WITHIN GROUP`);
  if (fc.over) refuse('ordered-set aggregate with OVER');
  if (fc.agg_distinct || fc.func_variadic) refuse('percentile with DISTINCT/VARIADIC');
  const args: Node[] = fc.args ?? [];
  const order: Node[] = fc.agg_order ?? [];
  if (args.length !== 1 || order.length !== 1) refuse('percentile with other than one fraction and one sort key');
  const c = args[0]!.A_Const;
  const raw: string | undefined = c?.fval?.fval ?? (c?.ival !== undefined ? String(c.ival.ival ?? 0) : undefined);
  if (raw === undefined || !/^[0-9]*\.?[0-9]*$/.test(raw)) refuse('percentile fraction that is not a constant');
  const p = Number(raw);
  if (!(p >= 0 && p <= 1)) refuse('percentile fraction outside [0, 1]');
  const sb = order[0]!.SortBy as Node;
  if (sb.useOp || sb.sortby_dir === 'SORTBY_DESC') refuse('percentile with a descending or USING sort');
  const x = expr(sb.node, ctx);
  const frac = `CAST(${lit(raw!)} AS DOUBLE)`; // parsed as Postgres's float8in would (correctly rounded)
  const userFilter = fc.agg_filter ? ` AND (${expr(fc.agg_filter, ctx)})` : '';
  if (name === 'percentile_disc') return `quantile_disc(${x}, ${frac})${fc.agg_filter ? ` FILTER (WHERE ${expr(fc.agg_filter, ctx)})` : ''}`;
  const v = `CAST(${x} AS DOUBLE)`;
  const l = `list(${v} ORDER BY ${v} ASC NULLS LAST) FILTER (WHERE (${v}) IS NOT NULL${userFilter})`;
  const pos = `(${frac} * CAST(len(${l}) - 1 AS DOUBLE))`;
  const at = (fn: 'floor' | 'ceil') => `${l}[CAST(${fn}(${pos}) AS BIGINT) + 1]`;
  return `(CASE WHEN coalesce(len(${l}), 0) = 0 THEN NULL WHEN floor(${pos}) = ceil(${pos}) THEN ${at('floor')} ELSE ${at('floor')} + ((${pos} - floor(${pos})) * (${at('ceil')} - ${at('floor')})) END)`;
}

/**
 * The window functions whose arguments Postgres reads differently from DuckDB (windowfuncs.c,
 * PostgreSQL 15):
 * - lag/lead(v, n, d): since PostgreSQL 13 v and d are `anycompatible`: their common type is the
 *   result (integer v with d = 0.7 is numeric, the default stays 0.7), where DuckDB casts d to v's type
 *   (1). Written out as a CASE, whose type DuckDB computes from both branches as Postgres does; where
 *   the branches then carry numerics of different scales (numeric(p,3) v with d = 0 prints `0` in
 *   Postgres), mixesScales() makes the alignment refuse the column. The default is evaluated on the
 *   current row, only when the row n away is outside the partition (lag(1, n) is NULL exactly then);
 *   a NULL offset gives NULL, not the default.
 * - nth_value(v, n): n <= 0 is Postgres's error 22016 (DuckDB returns NULL); raising in DuckDB sends
 *   the statement to Postgres, which raises it itself. A NULL n gives NULL in both.
 * - ntile(n): Postgres reads n on a partition's first row (and again while it is NULL), DuckDB on
 *   every row: only a constant or a parameter is translated. n <= 0 raises in both.
 */
function windowArguments(name: string, fc: Node, ctx: Ctx): string {
  if (fc.agg_star || fc.agg_distinct || fc.agg_order || fc.agg_filter || fc.agg_within_group) refuse(`${name} with */DISTINCT/ORDER BY/FILTER`);
  const args: Node[] = fc.args ?? [];
  const w = over(fc.over, ctx);
  const a = args.map((x) => expr(x, ctx));
  switch (name) {
    case 'lag':
    case 'lead': {
      if (args.length < 1 || args.length > 3) refuse(`${name} with ${args.length} arguments`);
      if (args.length < 3) return `${name}(${a.join(', ')})${w}`;
      const [v, n, d] = a as [string, string, string];
      return `(CASE WHEN ${name}(1, ${n})${w} IS NOT NULL THEN ${name}(${v}, ${n})${w} WHEN (${n}) IS NULL THEN NULL ELSE ${d} END)`;
    }
    case 'nth_value': {
      if (args.length !== 2) refuse('nth_value with other than two arguments');
      const [v, n] = a as [string, string];
      return `nth_value(${v}, CASE WHEN (${n}) <= 0 THEN error('argument of nth_value must be greater than zero') ELSE (${n}) END)${w}`;
    }
    default: {
      if (args.length !== 1) refuse('ntile with other than one argument');
      const arg = (args[0]!.TypeCast?.arg as Node | undefined) ?? args[0]!;
      if (intConstant(arg) === null && !arg.ParamRef && !arg.A_Const?.isnull) refuse('ntile with an argument that is not a constant (Postgres reads it once per partition)');
      return `ntile(${a[0]})${w}`;
    }
  }
}

/**
 * make_interval(years, months, weeks, days, hours, mins, secs) (timestamp.c make_interval), positional or
 * named, each an integer constant: an interval of months, days and microseconds, which DuckDB's INTERVAL
 * holds field by field as Postgres's does. Computed here; a field beyond its int32 (months, days) or
 * int64 (microseconds) range is Postgres's error, refused. A fractional or non-constant argument is
 * refused (secs is float8 in Postgres, rounded to microseconds).
 */
const MAKE_INTERVAL_ARGS = ['years', 'months', 'weeks', 'days', 'hours', 'mins', 'secs'] as const;
function makeInterval(args: Node[]): string {
  const v: Record<string, bigint> = {};
  args.forEach((a, i) => {
    const name: string | undefined = a.NamedArgExpr ? a.NamedArgExpr.name : MAKE_INTERVAL_ARGS[i];
    const n = intConstant(a.NamedArgExpr ? a.NamedArgExpr.arg : a);
    if (!name || !(MAKE_INTERVAL_ARGS as readonly string[]).includes(name) || n === null || v[name] !== undefined) refuse('make_interval with other than integer constants');
    v[name] = BigInt(n);
  });
  const f = (k: string): bigint => v[k] ?? 0n;
  const months = f('years') * 12n + f('months');
  const days = f('weeks') * 7n + f('days');
  const micros = (f('hours') * 3600n + f('mins') * 60n + f('secs')) * 1_000_000n;
  const int32 = (x: bigint) => x >= -(2n ** 31n) && x < 2n ** 31n;
  if (!int32(months) || !int32(days) || !(micros >= -(2n ** 63n) && micros < 2n ** 63n)) refuse('make_interval out of range');
  return `(to_months(CAST(${months} AS INTEGER)) + to_days(CAST(${days} AS INTEGER)) + to_microseconds(CAST(${micros} AS BIGINT)))`;
}

/** A stride written as '<n> <unit>' (or INTERVAL '<n> <unit>'), units up to days, in microseconds; else null. */
const STRIDE_UNITS: Record<string, bigint> = {
  microsecond: 1n, microseconds: 1n, millisecond: 1000n, milliseconds: 1000n,
  second: 1_000_000n, seconds: 1_000_000n, sec: 1_000_000n, secs: 1_000_000n,
  minute: 60_000_000n, minutes: 60_000_000n, min: 60_000_000n, mins: 60_000_000n,
  hour: 3_600_000_000n, hours: 3_600_000_000n, day: 86_400_000_000n, days: 86_400_000_000n,
};
function strideMicros(n: Node): bigint | null {
  const tc = n.TypeCast;
  if (tc && duckTypeName(tc.typeName) !== 'INTERVAL') return null;
  const text = stringConst(tc ? tc.arg : n);
  const m = text === null ? null : /^\s*([0-9]{1,9})\s*([a-z]+)\s*$/i.exec(text);
  const unit = m ? STRIDE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return null;
  const v = BigInt(m[1]!) * unit;
  return v > 0n ? v : null;
}

/**
 * Whether a zone name is a tzdata zone ID spelt as tzdata spells it ('Area/City', its aliases such as
 * Asia/Kolkata, or UTC) that ICU (Node's here, DuckDB's when it runs) knows.
 */
function ianaZone(zone: string): boolean {
  if (zone === 'UTC') return true;
  if (!/^[A-Z][A-Za-z]*(\/[A-Z][A-Za-z0-9_+-]*)+$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function funcCall(fc: Node, ctx: Ctx): string {
  const name = funcName(fc);
  // over pre-aggregated groups (a DISTINCT aggregate reads key columns there, as written)
  if (ctx.pre && isAggregateCall(fc) && !fc.agg_distinct) return preAggregate(name, fc, ctx);
  if (fc.agg_within_group) return orderedSetAggregate(name, fc, ctx);
  if (fc.func_variadic) refuse('VARIADIC');
  const args: Node[] = fc.args ?? [];
  const tail = (): string => (fc.agg_filter ? ` FILTER (WHERE ${expr(fc.agg_filter, ctx)})` : '') + (fc.over ? over(fc.over, ctx) : '');
  const argList = (): string => args.map((a) => expr(a, ctx)).join(', ');
  /** a 'conditional' capability (router/capabilities.ts) whose condition was checked: pass it through */
  let conditionChecked = false;
  switch (name) {
    case 'extract': {
      const field = stringConst(args[0]!)?.toLowerCase() ?? refuse('extract field');
      const timeField = ['hour', 'minute', 'second', 'milliseconds', 'microseconds'].includes(field);
      const src = timeField ? `dg_no_date_time(${expr(args[1]!, ctx)})` : expr(args[1]!, ctx);
      if (field === 'second') return `(CAST(dg_date_part('microseconds', ${src}) AS DECIMAL(18,0)) * 0.000001)`;
      if (field === 'milliseconds') return `(CAST(dg_date_part('microseconds', ${src}) AS DECIMAL(18,0)) * 0.001)`;
      // numeric seconds since 1970-01-01 UTC (dg_epoch: calendar.ts; raises for what it does not translate)
      if (field === 'epoch') return `dg_epoch(${src})`;
      if (extractFields[field] === undefined) refuse(`extract(${field})`);
      return `CAST(dg_date_part(${lit(field)}, ${src}) AS DECIMAL(18,0))`;
    }
    case 'date_part': {
      const field = stringConst(args[0]!)?.toLowerCase() ?? refuse('date_part field');
      const src = expr(args[1]!, ctx);
      if (field === 'second') return `(CAST(dg_date_part('microseconds', ${src}) AS DOUBLE) / 1000000)`;
      if (field === 'milliseconds') return `(CAST(dg_date_part('microseconds', ${src}) AS DOUBLE) / 1000)`;
      if (extractFields[field] === undefined) refuse(`date_part(${field})`);
      return `CAST(dg_date_part(${lit(field)}, ${src}) AS DOUBLE)`;
    }
    case 'date_trunc': {
      const unit = stringConst(args[0]!)?.toLowerCase() ?? refuse('date_trunc unit');
      // century and millennium: Postgres's start in year 2001 (the first year of the 21st century),
      // DuckDB's in 2000, so those units are not translated
      if (!['microseconds', 'milliseconds', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year', 'decade'].includes(unit))
        refuse(`date_trunc(${unit})`);
      if (args.length !== 2) refuse('date_trunc with a time zone argument');
      // dg_date_trunc/dg_date_part: calendar.ts (fast fixed-offset timestamptz path, BC/infinity guards)
      return `dg_date_trunc(${lit(unit)}, ${expr(args[1]!, ctx)})`;
    }
    case 'timezone': {
      // x AT TIME ZONE 'Area/City' (the grammar's timezone(zone, x)). Only a constant IANA zone ID spelt
      // as tzdata spells it: Postgres also reads abbreviations (its timezone_abbreviations) and POSIX
      // specs ('UTC+3', '+05:30': west positive there) that DuckDB's ICU reads otherwise or not at all.
      // dg_at_zone (calendar.ts) translates a timestamptz and raises for any other type.
      const zone = args.length === 2 ? stringConst(args[0]!) : null;
      if (zone === null || !ianaZone(zone)) refuse('AT TIME ZONE with other than a constant IANA zone ID');
      return `dg_at_zone(${lit(zone)}, ${expr(args[1]!, ctx)})`;
    }
    case 'make_interval':
      return makeInterval(args);
    case 'date_bin': {
      // date_bin('15 minutes', x, TIMESTAMPTZ '2000-01-01'): the stride a constant of one unit up to
      // days (no months: Postgres's error), read here; the origin a typed timestamp(tz) constant (read
      // in the session's TimeZone by both engines). dg_date_bin: calendar.ts.
      const st = args.length === 3 ? strideMicros(args[0]!) : null;
      const o = args[2]?.TypeCast;
      const ot = o && stringConst(o.arg) !== null ? duckTypeName(o.typeName) : null;
      if (st === null || (ot !== 'TIMESTAMPTZ' && ot !== 'TIMESTAMP')) refuse('date_bin with other than a constant stride and a typed constant origin');
      return `dg_date_bin(CAST(${st} AS BIGINT), ${expr(args[1]!, ctx)}, ${expr(args[2]!, ctx)})`;
    }
    case 'now':
    case 'transaction_timestamp':
      // the session's transaction start as its Postgres connection read it (calendar.ts clockMacros)
      if (args.length) refuse(`${name} with arguments`);
      ctx.clock = true;
      return 'dg_now()';
    case 'round': {
      // Postgres: round(numeric) rounds half away from zero, round(float8) half to even (rint). Only the
      // numeric form with an explicit cast is translated when the type is not otherwise certain.
      // round(x, n) is numeric with display scale n in Postgres; below the top level neither DuckDB's
      // type (an integer stays one, a DECIMAL keeps its scale) nor whether x is exact there (a nested
      // avg() is a DOUBLE in DuckDB) can be checked, so only a top-level round(x, n) is translated
      // (in target()).
      if (args.length === 2) refuse('round(x, n) below the top level of the select list');
      const a = args[0]!;
      if (a.TypeCast && /DECIMAL/.test(duckTypeName(a.TypeCast.typeName))) return `round(${expr(a, ctx)})`;
      return refuse('round(x) of unknown type');
    }
    case 'to_char':
      return toChar(args, ctx);
    case 'substr':
    case 'substring': {
      // Postgres counts a start below 1 as positions before the string (substring('click', -1, 3) is
      // 'c'); DuckDB counts it from the end. The regex form substring(s FROM 'pattern') is not
      // translated. A negative length is Postgres's error.
      if (args.length < 2 || args.length > 3 || stringConst(args[1]!) !== null) refuse(`${name} form`);
      const str = expr(args[0]!, ctx);
      const start = `CAST(${expr(args[1]!, ctx)} AS BIGINT)`;
      if (args.length === 2) return `substring(${str}, greatest(${start}, 1))`;
      const len = `CAST(${expr(args[2]!, ctx)} AS BIGINT)`;
      return `substring(${str}, greatest(${start}, 1), CASE WHEN ${len} < 0 THEN error('negative substring length not allowed') ELSE greatest(${start} + ${len} - greatest(${start}, 1), 0) END)`;
    }
    case 'split_part': {
      // An empty delimiter makes the whole string field 1 (and -1) in Postgres, DuckDB splits it into
      // characters; field 0 is Postgres's error. Only a non-empty constant delimiter and a non-zero
      // constant field are translated.
      const delim = args.length === 3 ? stringConst(args[1]!) : null;
      const field = args.length === 3 ? intConstant(args[2]!) : null;
      if (!delim || field === null || field === 0) refuse('split_part with other than a constant delimiter and field');
      return `split_part(${argList()})`;
    }
    case 'lpad':
    case 'rpad':
      // Postgres fills with a space when no fill is given; DuckDB has only the three-argument form
      if (args.length === 2) return `${name}(${argList()}, ' ')`;
      break;
    case 'concat':
    case 'concat_ws':
      // concat() prints its arguments with their output functions (textout of a bool is 't')
      return `${name}(${args.map((a) => `dg_out(${expr(a, ctx)})`).join(', ')})`;
    case 'lower':
    case 'upper':
      if (args.length !== 1) refuse(`${name} with other than one argument`);
      ctx.caseMapping = true;
      return (name === 'lower' ? asciiLower : asciiUpper)(expr(args[0]!, ctx));
    case 'position':
      // The grammar turns position(sub IN str) into position(str, sub): already strpos's order.
      return `strpos(${expr(args[0]!, ctx)}, ${expr(args[1]!, ctx)})`;
    case 'ltrim': case 'rtrim': case 'btrim':
      return `${name === 'btrim' ? 'trim' : name}(${argList()})`;
    case 'lag':
    case 'lead':
    case 'nth_value':
    case 'ntile':
      if (fc.over) return windowArguments(name, fc, ctx);
      break;
    case 'avg':
      // below the top level (target() ships a top-level numeric avg as its sum and count)
      conditionChecked = true;
      break;
    case 'array_agg':
    case 'string_agg':
      // DISTINCT: Postgres removes duplicates by sorting the aggregate's input on its arguments
      // (nodeAgg.c, process_ordered_aggregate_*: a DISTINCT aggregate sorts even without ORDER BY), so
      // the elements come in ascending order, NULL last; DuckDB's come in hash order. The order is
      // written out (the session keeps a statement that orders text on Postgres unless the collation
      // is bytewise). With its own ORDER BY, the order is explicit in both.
      if (fc.agg_distinct && !fc.agg_order) {
        if (args.length < 1 || fc.over) refuse(`${name}(DISTINCT) form`);
        // DuckDB matches a DISTINCT aggregate's ORDER BY with its arguments only as written (a macro
        // such as dg_nz in the argument defeats it): array_agg's list is sorted afterwards instead
        if (name === 'array_agg') return `list_sort(array_agg(DISTINCT ${argList()})${tail()}, 'ASC', 'NULLS LAST')`;
        if (args.length !== 2 || stringConst(args[1]!) === null) refuse('string_agg(DISTINCT) with a non-constant delimiter');
        if (!args[0]!.ColumnRef) refuse('string_agg(DISTINCT) of an expression');
        return `${name}(DISTINCT ${argList()} ORDER BY ${expr(args[0]!, ctx)} ASC NULLS LAST)${tail()}`;
      }
      conditionChecked = true;
      break;
    case 'mod':
      // Postgres raises 22012 for a zero divisor (int4mod, numeric_mod); DuckDB returns NULL
      if (args.length !== 2 || fc.over || fc.agg_filter) refuse('mod with other than two arguments');
      return `mod(${expr(args[0]!, ctx)}, dg_nz(${expr(args[1]!, ctx)}))`;
    case 'sqrt':
    case 'exp':
    case 'ln':
    case 'power':
      // Postgres's float8 functions raise where C's return Infinity, 0 or NaN (float.c dexp, dpow,
      // dsqrt, dlog1); their numeric forms compute in numeric: the dg_ macros (engine.ts) raise for both
      if (args.length !== (name === 'power' ? 2 : 1) || fc.over || fc.agg_filter) refuse(`${name} with other arguments`);
      return `dg_${name}(${argList()})`;
    default:
      break;
  }
  if (!passThrough.has(name) && !conditionChecked) refuse(`function ${name}`);
  const distinct = fc.agg_distinct ? 'DISTINCT ' : '';
  const star = fc.agg_star ? '*' : '';
  const order = fc.agg_order ? ' ORDER BY ' + (fc.agg_order as Node[]).map((b) => sortBy(b.SortBy, ctx)).join(', ') : '';
  // every() is the SQL-standard name of bool_and(); DuckDB only knows the latter.
  const fn = name === 'every' ? 'bool_and' : name;
  return `${fn}(${distinct}${star}${argList()}${order})${tail()}`;
}
