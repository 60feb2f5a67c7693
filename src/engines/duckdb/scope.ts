// Name scopes of a SELECT as Postgres's parse analysis resolves them (parse_relation.c colNameToVar and
// refnameNamespaceItem, parse_agg.c check_agg_arguments), for the constructs whose meaning depends on
// them and differs in DuckDB. Pure; used by rewrite.ts before it deparses anything.
//
// - A whole-row reference: `count(t)`, `t.* IS NULL`, `count(t.*)`. Postgres's row value of a
//   null-extended row (the missing side of an outer join) is NULL, so count(t.*) counts 0 for an
//   unmatched row; DuckDB's struct of NULLs is a value and is counted. Only `t.*` as an item of a select
//   list (an expansion into columns) is translated.
// - An aggregate whose arguments (with its FILTER and ORDER BY) reference columns of outer query levels
//   only belongs to the nearest of those levels, not to the subquery it is written in (SQL standard,
//   "outer reference"; check_agg_arguments): `SELECT (SELECT max(o.v)) FROM t o` is one row in Postgres,
//   computed over all of t. DuckDB aggregates it in the subquery, once per row of t. Such a statement is
//   refused, and so is one where the level cannot be told (a column list that is not known).
//
// Levels: each SELECT is one; the ranges of a level are visible to its expressions and to its
// subqueries in expressions (SubLinks), not to its own FROM subqueries or CTE bodies (no LATERAL is
// translated), which still see the levels above.
import { isAggregateCall } from './preaggregate.js';

type Node = Record<string, any>;

interface Range {
  name: string;
  /** its column names, null when not known */
  columns: ReadonlySet<string> | null;
}

interface Level {
  depth: number;
  parent: Level | null;
  ranges: Range[];
  /** false while the level's own FROM items and CTE bodies are walked */
  visible: boolean;
  /** CTE name → its column names (null: not known), declared at this level */
  ctes: Map<string, ReadonlySet<string> | null>;
}

/** Where a column reference resolves: a definite level, or the innermost level it may belong to. */
type Resolution = { kind: 'column'; depth: number } | { kind: 'uncertain'; innermost: number } | { kind: 'row' };

export interface ScopeInput {
  resolve: (schema: string | null, name: string) => string | null;
  relation?: (ref: string) => { columns: ReadonlyMap<string, string> } | undefined;
}

class Refusal extends Error {}

/** Null when the statement has neither construct, else the reason to refuse it. */
export function scopeRefusal(select: Node, input: ScopeInput): string | null {
  try {
    new Walker(input).select(select, null);
    return null;
  } catch (e) {
    if (e instanceof Refusal) return e.message;
    throw e;
  }
}

/** An aggregate whose arguments are being walked: the levels its column references resolve to. */
interface OpenAggregate {
  depth: number;
  /** smallest distance (aggregate level - reference level) of a reference at or above its level */
  minDistance: number;
  uncertain: boolean;
}

class Walker {
  private readonly open: OpenAggregate[] = [];

  constructor(private readonly input: ScopeInput) {}

  /** Walks a SelectStmt as a new level below parent; returns its output column names (null: not known). */
  select(s: Node, parent: Level | null): ReadonlySet<string> | null {
    const level: Level = { depth: parent ? parent.depth + 1 : 0, parent, ranges: [], visible: false, ctes: new Map() };
    for (const c of (s.withClause?.ctes as Node[] | undefined) ?? []) {
      const cte = c.CommonTableExpr as Node;
      const body = cte.ctequery?.SelectStmt as Node | undefined;
      const out = body ? this.select(body, level) : null;
      const names = cte.aliascolnames as Node[] | undefined;
      level.ctes.set(cte.ctename as string, names ? new Set(names.map((n) => n.String.sval as string)) : out);
    }
    if (s.op && s.op !== 'SETOP_NONE') {
      const left = this.select(s.larg, level);
      this.select(s.rarg, level);
      return left;
    }
    for (const f of (s.fromClause as Node[] | undefined) ?? []) this.fromItem(f, level);
    level.visible = true;
    for (const f of (s.fromClause as Node[] | undefined) ?? []) this.joinQuals(f, level);
    const targets = (s.targetList as Node[] | undefined) ?? [];
    for (const t of targets) {
      const v = t.ResTarget?.val as Node | undefined;
      // t.* as an item of the select list expands to columns; anywhere else it is a row value
      if (v?.ColumnRef && (v.ColumnRef.fields as Node[]).some((x) => x.A_Star)) continue;
      this.expr(v, level);
    }
    const out = outputNames(targets);
    for (const part of [s.whereClause, s.havingClause, s.windowClause, s.limitCount, s.limitOffset, s.valuesLists]) this.expr(part, level);
    // GROUP BY, ORDER BY and DISTINCT ON items may name an output column (findTargetlistEntrySQL92)
    const outputAlias = (n: Node | undefined): boolean => {
      const f = n?.ColumnRef?.fields as Node[] | undefined;
      return f?.length === 1 && !!out?.has(f[0]!.String?.sval as string);
    };
    for (const g of (s.groupClause as Node[] | undefined) ?? []) if (!outputAlias(g)) this.expr(g, level);
    for (const b of (s.sortClause as Node[] | undefined) ?? []) if (!outputAlias(b.SortBy?.node)) this.expr(b, level);
    for (const d of (s.distinctClause as Node[] | undefined) ?? []) if (!outputAlias(d)) this.expr(d, level);
    return out;
  }

  private fromItem(f: Node, level: Level): void {
    if (f.RangeVar) {
      const r = f.RangeVar as Node;
      const name = (r.alias?.aliasname as string | undefined) ?? (r.relname as string);
      const cte = r.schemaname ? undefined : this.cte(level, r.relname);
      let columns: ReadonlySet<string> | null;
      if (cte !== undefined) columns = cte;
      else {
        const ref = this.input.resolve((r.schemaname as string | undefined) ?? null, r.relname);
        const facts = ref === null ? undefined : this.input.relation?.(ref);
        columns = facts ? new Set(facts.columns.keys()) : null;
      }
      // a column alias list renames the first columns in Postgres's order, which the mirror's need not
      // be: the names are then not known
      if (r.alias?.colnames) columns = null;
      level.ranges.push({ name, columns });
    } else if (f.JoinExpr) {
      this.fromItem(f.JoinExpr.larg, level);
      this.fromItem(f.JoinExpr.rarg, level);
    } else if (f.RangeSubselect) {
      const r = f.RangeSubselect as Node;
      const out = this.select(r.subquery.SelectStmt, level);
      const colnames = r.alias?.colnames as Node[] | undefined;
      level.ranges.push({ name: r.alias?.aliasname ?? '', columns: colnames ? new Set(colnames.map((c) => c.String.sval as string)) : out });
    } else if (f.RangeFunction) {
      const r = f.RangeFunction as Node;
      this.expr(r.functions, level);
      const fc = (r.functions as Node[] | undefined)?.[0]?.List?.items?.[0]?.FuncCall as Node | undefined;
      const fname = fc ? ((fc.funcname as Node[]).at(-1)?.String?.sval as string) : '';
      const name = (r.alias?.aliasname as string | undefined) ?? fname;
      const colnames = r.alias?.colnames as Node[] | undefined;
      // a function returning a scalar names its one column after the alias (or itself)
      level.ranges.push({ name, columns: colnames ? new Set(colnames.map((c) => c.String.sval as string)) : new Set([name]) });
    } else {
      throw new Refusal(`FROM item ${Object.keys(f)[0]} in scope analysis`);
    }
  }

  /** ON conditions see every range of the level (the rewrite refuses LATERAL, so no more is needed). */
  private joinQuals(f: Node, level: Level): void {
    if (!f.JoinExpr) return;
    this.joinQuals(f.JoinExpr.larg, level);
    this.joinQuals(f.JoinExpr.rarg, level);
    this.expr(f.JoinExpr.quals, level);
  }

  private cte(level: Level | null, name: string): ReadonlySet<string> | null | undefined {
    for (let l = level; l; l = l.parent) if (l.ctes.has(name)) return l.ctes.get(name);
    return undefined;
  }

  private expr(n: unknown, level: Level): void {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) this.expr(x, level);
      return;
    }
    const o = n as Node;
    if (o.SubLink) {
      this.expr(o.SubLink.testexpr, level);
      this.select(o.SubLink.subselect.SelectStmt, level);
      return;
    }
    if (o.ColumnRef) {
      this.columnRef(o.ColumnRef, level);
      return;
    }
    if (o.FuncCall && isAggregateCall(o.FuncCall)) {
      const fc = o.FuncCall as Node;
      const agg: OpenAggregate = { depth: level.depth, minDistance: Infinity, uncertain: false };
      this.open.push(agg);
      try {
        this.expr([fc.args, fc.agg_filter, fc.agg_order], level);
      } finally {
        this.open.pop();
      }
      if (agg.minDistance > 0 && agg.minDistance !== Infinity) {
        throw new Refusal('an aggregate whose arguments are outer columns only belongs to the outer query');
      }
      // (with no outer level in sight, e.g. in a CTE or a FROM subquery of the top level, there is no
      // other level it could belong to)
      if (agg.uncertain && agg.minDistance !== 0 && seesOuterLevel(level)) throw new Refusal('the query level of an aggregate cannot be told (a column list is not known)');
      this.expr(fc.over, level);
      return;
    }
    for (const v of Object.values(o)) this.expr(v, level);
  }

  private columnRef(c: Node, level: Level): void {
    const fields = c.fields as Node[];
    if (fields.some((f) => f.A_Star)) throw new Refusal('a whole-row value (t.*) outside a select list');
    const r = this.resolve(fields.map((f) => f.String?.sval as string), level);
    if (r.kind === 'row') throw new Refusal('a whole-row reference to a table');
    for (const agg of this.open) {
      if (r.kind === 'column') {
        if (r.depth <= agg.depth) agg.minDistance = Math.min(agg.minDistance, agg.depth - r.depth);
      } else if (r.innermost <= agg.depth) agg.uncertain = true;
    }
  }

  private resolve(names: string[], level: Level): Resolution {
    if (names.length >= 2) {
      // table.column (or schema.table.column): the innermost visible range of that name
      const table = names[names.length - 2]!;
      for (let l: Level | null = level; l; l = l.parent) {
        if (l.visible && l.ranges.some((r) => r.name === table)) return { kind: 'column', depth: l.depth };
      }
      return { kind: 'uncertain', innermost: level.depth };
    }
    const name = names[0]!;
    // a bare name is a column of the innermost level that has one; only when none has, a whole row
    let innermostUnknown: number | null = null;
    for (let l: Level | null = level; l; l = l.parent) {
      if (!l.visible) continue;
      if (l.ranges.some((r) => r.columns?.has(name))) {
        return innermostUnknown === null ? { kind: 'column', depth: l.depth } : { kind: 'uncertain', innermost: innermostUnknown };
      }
      if (innermostUnknown === null && l.ranges.some((r) => r.columns === null)) innermostUnknown = l.depth;
    }
    for (let l: Level | null = level; l; l = l.parent) {
      if (l.visible && l.ranges.some((r) => r.name === name)) return { kind: 'row' };
    }
    return { kind: 'uncertain', innermost: innermostUnknown ?? level.depth };
  }
}

/** Whether a level's expressions see ranges of an enclosing level. */
function seesOuterLevel(level: Level): boolean {
  for (let l = level.parent; l; l = l.parent) if (l.visible && l.ranges.length > 0) return true;
  return false;
}

/** The column names a select list gives its level (FigureColname, parse_target.c), null if not known. */
function outputNames(targets: Node[]): ReadonlySet<string> | null {
  const out = new Set<string>();
  for (const t of targets) {
    const rt = t.ResTarget as Node;
    if (rt.name) {
      out.add(rt.name);
      continue;
    }
    const name = figureName(rt.val);
    if (name === null) return null;
    out.add(name);
  }
  return out;
}

/** The name Postgres gives an unnamed select-list item (FigureColname, parse_target.c); null for t.*. */
export function figureName(v: Node | undefined): string | null {
  if (!v) return '?column?';
  if (v.ColumnRef) {
    const f = v.ColumnRef.fields as Node[];
    const last = f[f.length - 1]!;
    return last.A_Star ? null : (last.String.sval as string);
  }
  if (v.FuncCall) return ((v.FuncCall.funcname as Node[]).at(-1)?.String?.sval as string) ?? '?column?';
  if (v.TypeCast) {
    // the argument's name where it is a strong one (a column, a function, a subquery's), else the type's
    const a = v.TypeCast.arg as Node | undefined;
    if (a && (a.ColumnRef || a.FuncCall || a.TypeCast || a.CoalesceExpr || a.MinMaxExpr || a.SQLValueFunction || (a.SubLink && a.SubLink.subLinkType === 'EXPR_SUBLINK'))) {
      const inner = figureName(a);
      if (inner !== '?column?') return inner;
    }
    return ((v.TypeCast.typeName?.names as Node[] | undefined)?.at(-1)?.String?.sval as string) ?? '?column?';
  }
  if (v.A_Expr?.kind === 'AEXPR_NULLIF') return 'nullif';
  if (v.SQLValueFunction) {
    const names: Record<string, string> = { SVFOP_CURRENT_DATE: 'current_date', SVFOP_CURRENT_TIMESTAMP: 'current_timestamp', SVFOP_LOCALTIMESTAMP: 'localtimestamp' };
    return names[v.SQLValueFunction.op as string] ?? null;
  }
  if (v.CaseExpr) return 'case';
  if (v.CoalesceExpr) return 'coalesce';
  if (v.MinMaxExpr) return v.MinMaxExpr.op === 'IS_GREATEST' ? 'greatest' : 'least';
  if (v.SubLink && v.SubLink.subLinkType === 'EXISTS_SUBLINK') return 'exists';
  if (v.SubLink && v.SubLink.subLinkType === 'EXPR_SUBLINK') {
    const first = (v.SubLink.subselect?.SelectStmt?.targetList as Node[] | undefined)?.[0]?.ResTarget as Node | undefined;
    return first ? (first.name ?? figureName(first.val)) : '?column?';
  }
  // anything else: a name that matches no reference written as an identifier would (or a guess that
  // only matters for a bare reference from an outer level, where a wrong name makes the level unknown)
  return '?column?';
}
