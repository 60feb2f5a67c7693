// Pre-aggregation: a grouped SELECT level whose aggregates can be computed in two steps is rewritten so
// that DuckDB first groups the scanned table by the few columns the rest of the statement needs, and
// the statement then runs over those partial groups instead of every row.
//
//   SELECT date_trunc('month', day) AS m, count(*), sum(n) FROM t GROUP BY 1
//   → SELECT date_trunc('month', day) AS m, CAST(sum(t._dg_p0) AS BIGINT), sum(t._dg_p1)
//       FROM (SELECT day, count(*) AS _dg_p0, sum(n) AS _dg_p1 FROM t GROUP BY day) AS t GROUP BY 1
//
// Why it is exact: the inner groups partition the rows by every column of the table the statement reads
// outside an aggregate (the keys), so each expression outside an aggregate has one value per inner
// group, and count/sum/min/max/bool_and/bool_or of a union of groups are the sum/min/max/… of the
// groups' partials (sum of floats: the order of additions changes, as between two parallel plans).
// With an inner join to another table ("eager aggregation", Yan & Larson, VLDB 1995), an inner group
// joins exactly the rows of the other table its rows would have joined, each partial once per match,
// as each row would have been: no uniqueness of the join key is needed. Only the aggregates and the
// table's own WHERE conditions move inside.
//
// When it is faster, decided from what the statement reads, never guessed per query:
// - one table: every key has a type with few values (DATE, BOOLEAN, small integers) and the grouping is
//   not just those columns (a function of them, as in date_trunc/extract buckets): the function is then
//   evaluated per day instead of per row. 10M rows, monthly buckets of a DATE: 195 → 25 ms.
// - inner join: the keys are the table's join columns only, and the other table has at most an eighth
//   of its rows (a dimension): the join then probes once per key instead of per row. 10M rows joined
//   to 2000 and grouped by two of their columns: 122 → 27 ms.
// A DISTINCT aggregate of key columns is computed outside as written (the same values, seen once).
// Anything else (other DISTINCT or ordered aggregates, avg below the top level, subqueries, *, outer joins,
// a WHERE condition mixing both tables, unknown table facts) leaves the statement as it was.

type Node = Record<string, any>;

/** What the engine knows about a mirrored DuckDB relation (by the reference the resolver returned). */
export interface RelationFacts {
  /** column name → DuckDB type (duckdb_columns().data_type) */
  columns: ReadonlyMap<string, string>;
  /** DuckDB's estimated row count; null when unknown (a view) */
  rows: number | null;
}

export interface PreAggPlan {
  /** the RangeVar node of the table that is pre-aggregated */
  fact: Node;
  /** the name the table is visible under in the statement (its alias, else its name) */
  name: string;
  /** the table's columns the rest of the statement reads outside aggregates: the inner GROUP BY */
  keys: string[];
  /** WHERE conjuncts evaluated inside (on the table's rows) and outside (on the joined partial groups) */
  innerWhere: Node[];
  outerWhere: Node[];
  /** its reserved partial column names must not collide with the table's own */
  columns: ReadonlyMap<string, string>;
}

/** Aggregates with a two-step form (partial, then combine). */
export const DECOMPOSABLE = new Set(['count', 'sum', 'min', 'max', 'bool_and', 'bool_or', 'every', 'avg']);
/** Every aggregate the rewrite translates: a FuncCall by one of these names without OVER is an aggregate. */
const AGGREGATES = new Set([
  'count', 'sum', 'min', 'max', 'avg', 'bool_and', 'bool_or', 'every', 'string_agg', 'array_agg',
  'stddev_samp', 'stddev_pop', 'var_samp', 'var_pop', 'stddev', 'variance', 'corr', 'covar_pop', 'covar_samp',
  'percentile_cont', 'percentile_disc', 'mode',
]);
/** DuckDB types with few distinct values whatever the table's size. */
const FEW_VALUES = new Set(['DATE', 'BOOLEAN', 'TINYINT', 'SMALLINT', 'UTINYINT', 'USMALLINT']);
/** The other table of a join must have at most 1/DIMENSION_RATIO of the pre-aggregated one's rows. */
const DIMENSION_RATIO = 8;

class Skip extends Error {}
const skip = (): never => {
  throw new Skip();
};

export function isAggregateCall(fc: Node): boolean {
  if (fc.over) return false;
  const names = (fc.funcname as Node[]).map((n) => n.String?.sval as string);
  const name = names[names.length - 1] ?? '';
  return AGGREGATES.has(name) || !!(fc.agg_star || fc.agg_distinct || fc.agg_order || fc.agg_filter || fc.agg_within_group);
}

interface Side {
  node: Node;
  name: string;
  facts: RelationFacts;
}

/**
 * A pre-aggregation plan for one SELECT level (not a set operation), or null to deparse it as written.
 * @param resolve the resolver's reference for a table (null: not mirrored, or a CTE)
 */
export function planPreAggregation(
  s: Node,
  isCte: (name: string) => boolean,
  resolve: (schema: string | null, name: string) => string | null,
  relation: ((ref: string) => RelationFacts | undefined) | undefined,
): PreAggPlan | null {
  if (!relation) return null;
  const groups = s.groupClause as Node[] | undefined;
  if (!groups?.length || groups.some((g) => g.GroupingSet) || s.groupDistinct) return null;
  if (s.windowClause || s.valuesLists || !s.fromClause || s.fromClause.length !== 1) return null;
  const side = (f: Node | undefined): Side | null => {
    const r = f?.RangeVar;
    if (!r || r.catalogname || r.inh === false || r.alias?.colnames) return null;
    if (!r.schemaname && isCte(r.relname)) return null;
    const ref = resolve(r.schemaname ?? null, r.relname);
    const facts = ref === null ? undefined : relation(ref);
    return facts ? { node: r, name: r.alias?.aliasname ?? r.relname, facts } : null;
  };
  const from = s.fromClause[0] as Node;
  let fact: Side;
  let dim: Side | null = null;
  let quals: Node | null = null;
  if (from.RangeVar) {
    const only = side(from);
    if (!only) return null;
    fact = only;
  } else if (from.JoinExpr) {
    const j = from.JoinExpr;
    if (j.jointype !== 'JOIN_INNER' || !j.quals || j.usingClause || j.isNatural || j.alias) return null;
    const a = side(j.larg);
    const b = side(j.rarg);
    if (!a || !b || a.name === b.name) return null;
    [fact, dim] = (a.facts.rows ?? 0) >= (b.facts.rows ?? 0) ? [a, b] : [b, a];
    if (fact.facts.rows === null || dim.facts.rows === null || dim.facts.rows * DIMENSION_RATIO > fact.facts.rows) return null;
    quals = j.quals;
  } else return null;

  type Owner = 'fact' | 'dim' | 'other';
  const owner = (c: Node): Owner => {
    const fields = c.fields as Node[];
    if (fields.some((f) => f.A_Star)) return skip();
    const names = fields.map((f) => f.String.sval as string);
    if (names.length >= 2) {
      const table = names[names.length - 2]!;
      return table === fact.name ? 'fact' : dim && table === dim.name ? 'dim' : skip();
    }
    const inFact = fact.facts.columns.has(names[0]!);
    const inDim = dim?.facts.columns.has(names[0]!) ?? false;
    if (inFact && inDim) return skip();
    return inFact ? 'fact' : inDim ? 'dim' : 'other';
  };
  const colName = (c: Node): string => {
    const fields = c.fields as Node[];
    return fields[fields.length - 1]!.String.sval as string;
  };

  const keys = new Set<string>();
  /** Walks expressions of this level: refs outside aggregates become keys; aggregates read the table only. */
  const walk = (n: unknown, inAggregate: boolean, onRef: (o: Owner, c: Node) => void): void => {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, inAggregate, onRef);
      return;
    }
    const o = n as Node;
    if (o.SubLink || o.SelectStmt || o.RangeSubselect) skip();
    if (o.ColumnRef) {
      onRef(owner(o.ColumnRef), o.ColumnRef);
      return;
    }
    if (o.FuncCall && isAggregateCall(o.FuncCall)) {
      if (inAggregate) skip();
      const fc = o.FuncCall;
      // A DISTINCT aggregate sees each value once however many rows carry it: over the keys it is
      // computed outside, on the groups, as written (count(DISTINCT c.domain_id) of a join on it).
      if (fc.agg_distinct && !fc.agg_within_group && !fc.func_variadic) {
        walk([fc.args, fc.agg_filter, fc.agg_order], true, (ow, c) => {
          if (ow !== 'fact') skip();
          onRef(ow, c);
        });
        return;
      }
      const names = (fc.funcname as Node[]).map((x) => x.String?.sval as string);
      if (!DECOMPOSABLE.has(names[names.length - 1]!) || fc.agg_distinct || fc.agg_order || fc.agg_within_group || fc.func_variadic) skip();
      // an aggregate reads the pre-aggregated table's columns only (computed inside, per group)
      walk([fc.args, fc.agg_filter], true, (ow) => {
        if (ow !== 'fact') skip();
      });
      return;
    }
    for (const v of Object.values(o)) walk(v, inAggregate, onRef);
  };
  const outside = (ow: Owner, c: Node): void => {
    if (ow === 'fact') keys.add(colName(c));
  };

  try {
    // the join condition: its columns of the pre-aggregated table are the only keys a join may have
    const joinKeys = new Set<string>();
    if (quals) walk(quals, false, (ow, c) => {
      if (ow === 'fact') joinKeys.add(colName(c));
      else if (ow !== 'dim') skip();
    });
    for (const k of joinKeys) keys.add(k);
    walk(s.targetList, false, outside);
    walk(groups, false, outside);
    walk(s.havingClause, false, outside);
    walk((s.sortClause as Node[] | undefined)?.map((b) => b.SortBy.node), false, outside);
    walk(s.distinctClause, false, outside);
    walk([s.limitCount, s.limitOffset], false, outside);

    const innerWhere: Node[] = [];
    const outerWhere: Node[] = [];
    const w = s.whereClause as Node | undefined;
    const conjuncts: Node[] = !w ? [] : w.BoolExpr?.boolop === 'AND_EXPR' ? (w.BoolExpr.args as Node[]) : [w];
    for (const c of conjuncts) {
      const seen = new Set<Owner>();
      walk(c, false, (ow) => seen.add(ow));
      if (seen.has('other')) skip();
      if (seen.has('fact') && seen.has('dim')) skip();
      (seen.has('dim') || (dim !== null && !seen.has('fact')) ? outerWhere : innerWhere).push(c);
    }

    if (keys.size === 0) return null;
    if (dim) {
      if ([...keys].some((k) => !joinKeys.has(k))) return null;
    } else {
      if ([...keys].some((k) => !FEW_VALUES.has(fact.facts.columns.get(k) ?? ''))) return null;
      // grouping by the columns themselves: the inner groups would be the outer ones, nothing saved
      const targets = s.targetList as Node[];
      const plain = (g: Node): boolean => {
        if (g.ColumnRef) return true;
        const pos = g.A_Const?.ival !== undefined ? (g.A_Const.ival.ival ?? 0) : null;
        return pos !== null && !!targets[pos - 1]?.ResTarget?.val?.ColumnRef;
      };
      if (groups.every(plain)) return null;
    }
    return { fact: fact.node, name: fact.name, keys: [...keys], innerWhere, outerWhere, columns: fact.facts.columns };
  } catch (e) {
    if (e instanceof Skip) return null;
    throw e;
  }
}
