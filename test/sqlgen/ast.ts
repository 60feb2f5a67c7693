// The generated statement as data: a small AST the generator builds, renders to SQL, and the minimiser
// shrinks (drop a clause, a join, a select item; replace an expression by a part of it of the same type
// or by a plain literal) while a difference persists.
import type { Ty } from './schema.js';

/**
 * An expression as a template: SQL text pieces and sub-expressions. Generic enough that the minimiser
 * needs no knowledge of operators: any sub-expression of the same type class can stand in for its parent.
 */
export interface Expr {
  ty: Ty;
  parts: Array<string | Expr>;
  /** an aggregate call (its arguments are not grouped columns) */
  agg?: boolean;
  /** a window function call */
  win?: boolean;
}

export interface SelectItem {
  e: Expr;
  /** the output column's name (stable under minimisation, so an outer query's references stay right) */
  name: string;
}

export type JoinKind = 'JOIN' | 'LEFT JOIN' | 'RIGHT JOIN' | 'FULL JOIN';

export interface Join {
  kind: JoinKind;
  table: string;
  alias: string;
  on: Expr[];
}

export interface OrderItem {
  /** 1-based output position */
  pos: number;
  desc: boolean;
  nulls: 'FIRST' | 'LAST' | null;
}

export type SetOp = 'UNION' | 'UNION ALL' | 'INTERSECT' | 'EXCEPT' | 'EXCEPT ALL';

export type From =
  | { table: string; alias: string }
  | { sub: Query; alias: string; cte: boolean }
  /** two queries' rows combined, read as a derived table */
  | { op: SetOp; left: Query; right: Query; alias: string };

export interface Query {
  distinct: boolean;
  select: SelectItem[];
  /** grouped: the first `keys` select items are the GROUP BY keys */
  grouped: boolean;
  keys: number;
  /** GROUP BY the key expressions' text rather than their positions */
  groupByText: boolean;
  from: From;
  joins: Join[];
  where: Expr[];
  having: Expr[];
  order: OrderItem[];
  limit: number | null;
}

export function exprSql(e: Expr): string {
  let s = '';
  for (const p of e.parts) s += typeof p === 'string' ? p : exprSql(p);
  return s;
}

export const X = (ty: Ty, ...parts: Array<string | Expr>): Expr => ({ ty, parts });

export function hasAggregate(e: Expr): boolean {
  return !!e.agg || e.parts.some((p) => typeof p !== 'string' && hasAggregate(p));
}

/** The ORDER BY puts the output in one order (every output column is a sort key): compare in order. */
export function totalOrder(q: Query): boolean {
  const pos = new Set(q.order.map((o) => o.pos));
  return q.select.every((_, i) => pos.has(i + 1));
}

export function render(q: Query): string {
  const parts: string[] = [];
  let prefix = '';
  let from: string;
  if ('sub' in q.from) {
    if (q.from.cte) {
      prefix = `WITH ${q.from.alias} AS (${render(q.from.sub)}) `;
      from = q.from.alias;
    } else {
      from = `(${render(q.from.sub)}) ${q.from.alias}`;
    }
  } else if ('op' in q.from) {
    from = `(${render(q.from.left)} ${q.from.op} ${render(q.from.right)}) ${q.from.alias}`;
  } else {
    from = `${q.from.table} ${q.from.alias}`;
  }
  parts.push(`SELECT ${q.distinct ? 'DISTINCT ' : ''}${q.select.map((s) => `${exprSql(s.e)} AS ${s.name}`).join(', ')}`);
  parts.push(`FROM ${from}`);
  for (const j of q.joins) parts.push(`${j.kind} ${j.table} ${j.alias} ON ${j.on.map(exprSql).join(' AND ')}`);
  if (q.where.length) parts.push(`WHERE ${q.where.map(exprSql).join(' AND ')}`);
  if (q.grouped && q.keys > 0) {
    const keys = q.select.slice(0, q.keys);
    parts.push(`GROUP BY ${q.groupByText ? keys.map((k) => exprSql(k.e)).join(', ') : keys.map((_, i) => String(i + 1)).join(', ')}`);
  }
  if (q.having.length) parts.push(`HAVING ${q.having.map(exprSql).join(' AND ')}`);
  if (q.order.length) {
    parts.push(`ORDER BY ${q.order.map((o) => `${o.pos}${o.desc ? ' DESC' : ''}${o.nulls ? ` NULLS ${o.nulls}` : ''}`).join(', ')}`);
  }
  if (q.limit !== null) parts.push(`LIMIT ${q.limit}`);
  return prefix + parts.join(' ');
}

// ---- minimisation ------------------------------------------------------------------------------------

const clone = <T>(x: T): T => structuredClone(x);

/**
 * Rebuilds a query with f applied to its expressions, outermost first: where f returns another node,
 * that node is used and not descended into. The order is fixed, so the n-th node is always the same one.
 */
function mapExprs(q: Query, f: (e: Expr) => Expr): Query {
  const walk = (e: Expr): Expr => {
    const r = f(e);
    if (r !== e) return r;
    return { ...e, parts: e.parts.map((p) => (typeof p === 'string' ? p : walk(p))) };
  };
  const out: Query = {
    ...q,
    select: q.select.map((s) => ({ ...s, e: walk(s.e) })),
    joins: q.joins.map((j) => ({ ...j, on: j.on.map(walk) })),
    where: q.where.map(walk),
    having: q.having.map(walk),
  };
  if ('sub' in q.from) out.from = { ...q.from, sub: mapExprs(q.from.sub, f) };
  if ('op' in q.from) out.from = { ...q.from, left: mapExprs(q.from.left, f), right: mapExprs(q.from.right, f) };
  return out;
}

function countExprs(q: Query): number {
  let n = 0;
  mapExprs(q, (e) => {
    n++;
    return e;
  });
  return n;
}

function descendantsOfType(e: Expr, ty: Ty): Expr[] {
  const out: Expr[] = [];
  const visit = (x: Expr): void => {
    for (const p of x.parts) {
      if (typeof p === 'string') continue;
      if (p.ty === ty) out.push(p);
      visit(p);
    }
  };
  visit(e);
  return out;
}

/** The plainest literal of each type class: what an expression is simplified to last. */
export const PLAIN: Record<Ty, string> = {
  int: '1',
  num: '1.5',
  float: "float8 '1.5'",
  text: "'a'",
  bool: 'TRUE',
  date: "DATE '2024-01-01'",
  ts: "TIMESTAMP '2024-01-01 00:00:00'",
  tstz: "TIMESTAMPTZ '2024-01-01 00:00:00+00'",
  interval: "INTERVAL '1 day'",
  time: "TIME '12:00:00'",
  uuid: "'00000000-0000-0000-0000-000000000000'::uuid",
};

function dropSelect(q: Query, i: number): Query | null {
  if (q.select.length <= 1) return null;
  const out = clone(q);
  out.select.splice(i, 1);
  if (i < out.keys) out.keys--;
  out.order = out.order.filter((o) => o.pos !== i + 1).map((o) => ({ ...o, pos: o.pos > i + 1 ? o.pos - 1 : o.pos }));
  return out;
}

/**
 * Smaller variants of q, biggest cuts first. Some are invalid SQL (a dropped join whose alias is still
 * used): Postgres rejects those and the minimiser moves on.
 */
export function* reductions(q: Query): Generator<Query> {
  if ('sub' in q.from) {
    for (const sub of reductions(q.from.sub)) yield { ...q, from: { ...q.from, sub } };
    if (q.from.cte) yield { ...q, from: { ...q.from, cte: false } };
  }
  if ('op' in q.from) {
    const f = q.from;
    yield { ...q, from: { sub: f.left, alias: f.alias, cte: false } };
    if (f.op !== 'UNION ALL') yield { ...q, from: { ...f, op: 'UNION ALL' } };
    for (const left of reductions(f.left)) if (left.select.length === f.left.select.length) yield { ...q, from: { ...f, left } };
    for (const right of reductions(f.right)) if (right.select.length === f.right.select.length) yield { ...q, from: { ...f, right } };
  }
  for (let i = q.joins.length - 1; i >= 0; i--) {
    const out = clone(q);
    out.joins.splice(i, 1);
    yield out;
  }
  if (q.limit !== null) yield { ...q, limit: null };
  if (q.order.length && q.limit === null) yield { ...q, order: [] };
  if (q.distinct) yield { ...q, distinct: false };
  for (let i = 0; i < q.having.length; i++) yield { ...q, having: q.having.filter((_, k) => k !== i) };
  for (let i = 0; i < q.where.length; i++) yield { ...q, where: q.where.filter((_, k) => k !== i) };
  for (let i = q.select.length - 1; i >= 0; i--) {
    const r = dropSelect(q, i);
    if (r) yield r;
  }
  for (let i = 0; i < q.joins.length; i++) {
    const j = q.joins[i]!;
    if (j.on.length > 1) for (let k = 1; k < j.on.length; k++) {
      const out = clone(q);
      out.joins[i]!.on.splice(k, 1);
      yield out;
    }
    if (j.kind !== 'JOIN') {
      const out = clone(q);
      out.joins[i]!.kind = 'JOIN';
      yield out;
    }
  }
  if (q.groupByText) yield { ...q, groupByText: false };
  if (q.order.some((o) => o.desc || o.nulls)) yield { ...q, order: q.order.map((o) => ({ pos: o.pos, desc: false, nulls: null })) };
  // expressions: each node replaced by a part of it of the same type, then by a plain literal
  const n = countExprs(q);
  for (let target = 0; target < n; target++) {
    let node: Expr | null = null;
    let k = 0;
    mapExprs(q, (e) => {
      if (k++ === target) node = e;
      return e;
    });
    const found = node as Expr | null;
    if (!found || found.parts.every((p) => typeof p === 'string')) continue;
    const replacements = [...descendantsOfType(found, found.ty), { ty: found.ty, parts: [PLAIN[found.ty]] }];
    for (const r of replacements) {
      let m = 0;
      yield mapExprs(q, (e) => (m++ === target ? r : e));
    }
  }
}

/** A rough size, to report how much the minimiser removed. */
export function size(q: Query): number {
  return render(q).length;
}
