// Random analytical statements over the demo schema, from the grammar duckgate claims to serve
// (src/router/functions.ts SAFE_FUNCTIONS, the rewrite in src/engines/duckdb/rewrite.ts, the shapes of
// test/differential/corpus-analytics.ts): aggregates with GROUP BY/HAVING/FILTER, filters with literals of
// every column type (most drawn from the data, so they hit rows), CASE, COALESCE, NULLIF, arithmetic
// over mixed types, casts, date_trunc/extract/date_part, text functions, window functions, joins along
// the foreign keys (inner and outer), derived tables and CTEs, UNION/INTERSECT/EXCEPT, EXISTS/IN/scalar
// subqueries, ORDER BY and LIMIT.
//
// Every statement's result can be compared exactly: a LIMIT always comes with an ORDER BY over every
// output column (rows equal in every column are indistinguishable, so the output is fully determined),
// and window functions whose result depends on the order of peers (row_number, lag, first_value…) order
// by the table's primary key last. Without a total ORDER BY the rows are compared as a multiset.
import type { Rng } from '../fuzz/rng.js';
import { hasAggregate, X, type Expr, type From, type Join, type JoinKind, type OrderItem, type Query, type SelectItem, type SetOp } from './ast.js';
import { FOREIGN_KEYS, ROWS, TABLES, table, type Column, type Samples, type Ty } from './schema.js';

interface ScopeCol extends Column {
  alias: string;
  /** "table.column" for sampled literals, when a base table column */
  key: string | null;
}

interface Scope {
  cols: ScopeCol[];
  /** the primary key of the only base table, when ordered windows can be made total with it */
  pk: Expr[] | null;
}

const ORDERABLE: Ty[] = ['int', 'num', 'float', 'text', 'bool', 'date', 'ts', 'tstz', 'interval', 'time'];
const NUMERIC: Ty[] = ['int', 'num', 'float'];

const q1 = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export interface GenOptions {
  /** maximal expression depth (default 3) */
  depth?: number;
}

export class SqlGenerator {
  private aliasN = 0;
  private nameN = 0;

  constructor(
    private readonly rng: Rng,
    private readonly samples: Samples,
    private readonly opts: GenOptions = {},
  ) {}

  // ---- literals --------------------------------------------------------------------------------------

  /** A literal of a type class; from the given column's sampled values most of the time. */
  lit(ty: Ty, col?: ScopeCol | null): Expr {
    const r = this.rng;
    const sampled = col?.key ? this.samples.get(col.key) : undefined;
    const v = sampled && sampled.length && r.chance(0.75) ? r.pick(sampled) : null;
    switch (ty) {
      case 'int': {
        const n = v ?? String(r.pick([0, 1, 2, 3, 5, 7, 10, 100, 250, 1000, -1, 32767, 100000]));
        return X('int', n.startsWith('-') ? `(${n})` : n);
      }
      case 'num': {
        const n = v ?? r.pick(['0', '0.5', '1.25', '10.00', '49.99', '100', '-3.7', '0.001']);
        return X('num', n.startsWith('-') ? `(${n})` : n.includes('.') ? n : `${n}.0`);
      }
      case 'float': {
        const n = v ?? r.pick(['0', '0.5', '0.25', '1', '-0.1', '0.75', '1e-3']);
        const pgType = col?.pg === 'float4' ? r.pick(['real', 'float8']) : 'float8';
        return X('float', `${pgType} ${q1(n)}`);
      }
      case 'text': {
        const s = v ?? r.pick(['', 'a', 'text/html', 'news', 'US', 'com', 'page_view', 'Émile', 'x%y']);
        return X('text', q1(s));
      }
      case 'bool':
        return X('bool', r.chance(0.5) ? 'TRUE' : 'FALSE');
      case 'date':
        return X('date', `DATE ${q1(v ?? r.pick(['2023-01-01', '2023-06-15', '2024-02-29', '2024-12-31', '2024-07-01']))}`);
      case 'ts':
        return X('ts', `TIMESTAMP ${q1(v ?? r.pick(['2023-03-01 00:00:00', '2024-02-29 12:30:00', '2024-06-01 08:00:00.5']))}`);
      case 'tstz':
        return X('tstz', `TIMESTAMPTZ ${q1(v ?? r.pick(['2023-03-01 00:00:00+00', '2024-02-29 12:30:00+00', '2024-06-01 08:00:00+02']))}`);
      case 'interval':
        return X('interval', `INTERVAL ${q1(v ?? r.pick(['1 day', '2 hours', '1 mon', '00:30:00', '7 days 12:00:00', '1 year 2 mons']))}`);
      case 'time':
        return X('time', `TIME ${q1(v ?? r.pick(['00:00:00', '06:30:00', '12:00:00', '23:59:59']))}`);
      case 'uuid':
        return X('uuid', `${q1(v ?? '00000000-0000-0000-0000-000000000000')}::uuid`);
    }
  }

  // ---- scalar expressions ----------------------------------------------------------------------------

  /** A type class among `among`, most often one that columns of the scope have. */
  private ty(scope: Scope, among: readonly Ty[]): Ty {
    const present = among.filter((t) => scope.cols.some((c) => c.ty === t));
    return present.length && this.rng.chance(0.85) ? this.rng.pick(present) : this.rng.pick(among);
  }

  private col(scope: Scope, ty: Ty): ScopeCol | null {
    const cs = scope.cols.filter((c) => c.ty === ty);
    return cs.length ? this.rng.pick(cs) : null;
  }

  private colExpr(c: ScopeCol): Expr {
    return X(c.ty, `${c.alias}.${c.name}`);
  }

  /** A leaf of a type: a column of the scope (most often) or a literal. */
  leaf(scope: Scope, ty: Ty): Expr {
    const c = this.col(scope, ty);
    if (c && this.rng.chance(0.8)) return this.colExpr(c);
    return this.lit(ty, c);
  }

  private unit(): string {
    return this.rng.pick(['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute']);
  }

  expr(scope: Scope, ty: Ty, depth: number): Expr {
    const r = this.rng;
    if (depth <= 0 || r.chance(0.35)) return this.leaf(scope, ty);
    const d = depth - 1;
    const e = (t: Ty): Expr => this.expr(scope, t, d);
    const common: Array<[number, () => Expr]> = [
      [2, () => X(ty, 'CASE WHEN ', this.pred(scope, d), ' THEN ', e(ty), ' ELSE ', e(ty), ' END')],
      [1, () => X(ty, 'CASE ', e(ty), ' WHEN ', this.lit(ty), ' THEN ', e(ty), ' END')],
      [2, () => X(ty, 'COALESCE(', e(ty), ', ', this.lit(ty), ')')],
      [1, () => X(ty, 'NULLIF(', e(ty), ', ', this.lit(ty, this.col(scope, ty)), ')')],
    ];
    if (ORDERABLE.includes(ty) && ty !== 'bool') common.push([1, () => X(ty, r.pick(['greatest(', 'least(']), e(ty), ', ', e(ty), ')')]);
    const temporal = (t: 'date' | 'ts' | 'tstz'): Expr => e(t);
    const options: Array<[number, () => Expr]> = [...common];
    switch (ty) {
      case 'int':
        options.push(
          [3, () => X('int', '(', e('int'), ` ${r.pick(['+', '-', '*'])} `, e('int'), ')')],
          [1, () => X('int', '(', e('int'), ` ${r.pick(['/', '%'])} `, String(r.pick([2, 3, 7, 10, 100, -4])), ')')],
          [1, () => X('int', r.pick(['abs(', '(-', 'sign(']), e('int'), ')')],
          [1, () => X('int', r.pick(['length(', 'char_length(', 'octet_length(']), e('text'), ')')],
          [1, () => X('int', 'strpos(', e('text'), `, ${q1(r.pick(['a', '/', '.', 'e']))})`)],
          [2, () => X('int', `CAST(extract(${r.pick(['year', 'month', 'day', 'dow', 'isodow', 'doy', 'quarter', 'week'])} FROM `, temporal(r.pick(['date', 'ts', 'tstz'])), ') AS integer)')],
          [1, () => X('int', 'CAST(', e(r.pick(['num', 'float'])), ` AS ${r.pick(['integer', 'bigint', 'smallint'])})`)],
          [1, () => X('int', '(', e('date'), ' - ', e('date'), ')')],
          [1, () => X('int', r.pick(['div(', 'mod(']), e('int'), `, ${r.pick([3, 7, 10])})`)],
        );
        break;
      case 'num':
        options.push(
          [3, () => X('num', '(', e('num'), ` ${r.pick(['+', '-', '*'])} `, e(r.pick(['num', 'int'])), ')')],
          [1, () => X('num', '(', e('int'), ` * ${r.pick(['1.5', '0.01', '100.0', '2.50'])})`)],
          [2, () => X('num', r.pick(['round(', 'trunc(']), e('num'), `${r.pick(['', ', 0', ', 1', ', 2', ', 3'])})`)],
          [1, () => X('num', r.pick(['floor(', 'ceil(', 'abs(']), e('num'), ')')],
          [2, () => X('num', 'CAST(', e('int'), ` AS ${r.pick(['numeric', 'numeric(10,2)', 'numeric(12,3)', 'decimal(8,1)'])})`)],
          [2, () => X('num', `extract(${r.pick(['year', 'month', 'day', 'hour', 'minute', 'second', 'dow', 'doy', 'quarter', 'isoyear', 'milliseconds'])} FROM `, temporal(r.pick(['date', 'ts', 'tstz'])), ')')],
          [1, () => X('num', '(', e('num'), ` / ${r.pick(['2', '3', '0.7', '4.0'])})`)],
        );
        break;
      case 'float':
        options.push(
          [3, () => X('float', '(', e('float'), ` ${r.pick(['+', '-', '*'])} `, e(r.pick(['float', 'int'])), ')')],
          [2, () => X('float', 'CAST(', e(r.pick(['int', 'num'])), ` AS ${r.pick(['float8', 'double precision', 'real'])})`)],
          [1, () => X('float', 'sqrt(abs(', e('float'), '))')],
          [1, () => X('float', r.pick(['round(', 'floor(', 'ceil(', 'abs(', 'trunc(']), e('float'), ')')],
          [2, () => X('float', `date_part(${q1(r.pick(['year', 'month', 'day', 'hour', 'dow', 'doy', 'week']))}, `, temporal(r.pick(['date', 'ts', 'tstz'])), ')')],
          [1, () => X('float', '(', e('float'), ` / ${r.pick(['2', '3.0', "float8 '0.5'"])})`)],
        );
        break;
      case 'text':
        options.push(
          [2, () => X('text', r.pick(['lower(', 'upper(', 'trim(', 'reverse(', 'md5(']), e('text'), ')')],
          [2, () => X('text', 'substr(', e('text'), `, ${r.range(1, 5)}${r.chance(0.7) ? `, ${r.range(0, 8)}` : ''})`)],
          [2, () => X('text', '(', e('text'), ' || ', e(r.pick(['text', 'int', 'text'])), ')')],
          [1, () => X('text', 'concat(', e('text'), ', ', e(r.pick(['int', 'text', 'date'])), ')')],
          [1, () => X('text', r.pick(['left(', 'right(']), e('text'), `, ${r.range(-2, 6)})`)],
          [1, () => X('text', 'replace(', e('text'), `, ${q1(r.pick(['a', '/', 'http', '.']))}, ${q1(r.pick(['', '_', 'X']))})`)],
          [1, () => X('text', 'split_part(', e('text'), `, ${q1(r.pick(['/', '.', '-', ' ']))}, ${r.range(1, 3)})`)],
          [1, () => X('text', r.pick(['lpad(', 'rpad(']), e('text'), `, ${r.range(0, 12)}, '*')`)],
          [3, () => X('text', 'CAST(', e(r.pick(['int', 'num', 'float', 'date', 'ts', 'tstz', 'interval', 'time', 'bool', 'uuid'])), ' AS text)')],
          [1, () => X('text', 'to_char(', temporal(r.pick(['date', 'ts', 'tstz'])), `, ${q1(r.pick(['YYYY-MM', 'YYYY-MM-DD', 'HH24:MI', 'Mon YYYY', 'Dy', 'YYYY-MM-DD HH24:MI:SS']))})`)],
        );
        break;
      case 'bool':
        return this.pred(scope, depth);
      case 'date':
        options.push(
          [2, () => X('date', '(', e('date'), ` ${r.pick(['+', '-'])} `, e('int'), ')')],
          [2, () => X('date', 'CAST(', e(r.pick(['ts', 'tstz'])), ' AS date)')],
          [2, () => X('date', `CAST(date_trunc(${q1(this.unit())}, `, e(r.pick(['date', 'ts'])), ') AS date)')],
        );
        break;
      case 'ts':
        options.push(
          [3, () => X('ts', `date_trunc(${q1(this.unit())}, `, e('ts'), ')')],
          [2, () => X('ts', '(', e('ts'), ` ${r.pick(['+', '-'])} `, e('interval'), ')')],
          [1, () => X('ts', 'CAST(', e(r.pick(['date', 'tstz'])), ' AS timestamp)')],
        );
        break;
      case 'tstz':
        options.push(
          [3, () => X('tstz', `date_trunc(${q1(this.unit())}, `, e(r.pick(['tstz', 'date'])), ')')],
          [2, () => X('tstz', '(', e('tstz'), ` ${r.pick(['+', '-'])} `, e('interval'), ')')],
          [1, () => X('tstz', 'CAST(', e(r.pick(['date', 'ts'])), ' AS timestamptz)')],
        );
        break;
      case 'interval':
        options.push(
          [2, () => X('interval', '(', e('ts'), ' - ', e('ts'), ')')],
          [1, () => X('interval', '(', e('interval'), ` * ${r.range(0, 5)})`)],
          [1, () => X('interval', '(', e('interval'), ` ${r.pick(['+', '-'])} `, e('interval'), ')')],
          [1, () => X('interval', r.pick(['justify_days(', 'justify_hours(', 'justify_interval(']), e('interval'), ')')],
        );
        break;
      case 'time':
        options.push(
          [2, () => X('time', 'CAST(', e('ts'), ' AS time)')],
          [1, () => X('time', '(', e('time'), ` ${r.pick(['+', '-'])} `, e('interval'), ')')],
        );
        break;
      case 'uuid':
        return this.leaf(scope, 'uuid');
    }
    return r.weighted(options)();
  }

  /** A predicate (bool) over the scope. */
  pred(scope: Scope, depth: number): Expr {
    const r = this.rng;
    const d = Math.max(0, depth - 1);
    const anyTy = (): Ty => {
      const some = scope.cols.filter((x) => x.ty !== 'uuid' || r.chance(0.3));
      const c = r.pick(some.length ? some : scope.cols);
      return r.chance(0.7) ? c.ty : r.pick(ORDERABLE.filter((t) => t !== 'bool'));
    };
    const options: Array<[number, () => Expr]> = [
      [6, () => {
        const ty = anyTy();
        const c = this.col(scope, ty);
        const left = c && r.chance(0.6) ? this.colExpr(c) : this.expr(scope, ty, d);
        const op = ty === 'uuid' || ty === 'bool' ? r.pick(['=', '<>']) : r.pick(['=', '<>', '<', '<=', '>', '>=']);
        const right = r.chance(0.75) ? this.lit(ty, c) : this.expr(scope, ty, d);
        return X('bool', '(', left, ` ${op} `, right, ')');
      }],
      [2, () => X('bool', '(', this.expr(scope, anyTy(), d), r.pick([' IS NULL', ' IS NOT NULL']), ')')],
      [2, () => {
        const ty = this.ty(scope, ORDERABLE.filter((t) => t !== 'bool'));
        const c = this.col(scope, ty);
        return X('bool', '(', c ? this.colExpr(c) : this.expr(scope, ty, d), r.pick([' BETWEEN ', ' NOT BETWEEN ']), this.lit(ty, c), ' AND ', this.lit(ty, c), ')');
      }],
      [2, () => {
        const ty = this.ty(scope, ['int', 'text', 'date', 'num']);
        const c = this.col(scope, ty);
        const items = Array.from({ length: r.range(1, 4) }, () => this.lit(ty, c));
        const list: Array<string | Expr> = [];
        items.forEach((it, i) => list.push(...(i ? [', '] : []), it));
        return X('bool', '(', c ? this.colExpr(c) : this.expr(scope, ty, d), r.pick([' IN (', ' NOT IN (']), ...list, '))');
      }],
      [2, () => {
        const c = this.col(scope, 'text');
        const sample = c?.key ? this.samples.get(c.key) : undefined;
        const base = sample?.length ? r.pick(sample) : 'a';
        const cut = base.slice(0, r.range(0, Math.min(6, base.length)));
        const pattern = r.pick([`${cut}%`, `%${cut.slice(1)}%`, `${cut}_%`, `%${cut.slice(-2)}`]).replace(/\\/g, '\\\\');
        return X('bool', '(', c ? this.colExpr(c) : this.expr(scope, 'text', d), r.pick([' LIKE ', ' NOT LIKE ', ' ILIKE ']), q1(pattern), ')');
      }],
      [2, () => X('bool', '(', this.pred(scope, d), r.pick([' AND ', ' OR ']), this.pred(scope, d), ')')],
      [1, () => X('bool', '(NOT ', this.pred(scope, d), ')')],
      [1, () => {
        const ty = anyTy();
        return X('bool', '(', this.expr(scope, ty, d), r.pick([' IS DISTINCT FROM ', ' IS NOT DISTINCT FROM ']), this.lit(ty, this.col(scope, ty)), ')');
      }],
    ];
    const b = this.col(scope, 'bool');
    if (b) options.push([2, () => (r.chance(0.7) ? this.colExpr(b) : X('bool', '(NOT ', this.colExpr(b), ')'))]);
    if (depth > 0) options.push([2, () => this.subqueryPred(scope)]);
    return r.weighted(options)();
  }

  /** EXISTS / IN / a scalar subquery, correlated along a foreign key where one fits. */
  private subqueryPred(scope: Scope): Expr {
    const r = this.rng;
    const inner = r.pick(TABLES);
    const alias = `i${this.aliasN++}`;
    const innerScope = this.tableScope(inner.name, alias);
    const links = FOREIGN_KEYS.flatMap((fk) => {
      const out: Array<{ inner: string; outer: ScopeCol }> = [];
      for (const c of scope.cols) {
        const t = c.key?.split('.')[0];
        if (fk.from === inner.name && fk.to === t && c.name === fk.toCol) out.push({ inner: fk.col, outer: c });
        if (fk.to === inner.name && fk.from === t && c.name === fk.col) out.push({ inner: fk.toCol, outer: c });
      }
      return out;
    });
    const extra = r.chance(0.6) ? [' AND ', this.pred(innerScope, 1)] : [];
    const kind = r.int(3);
    if (kind === 0 && links.length) {
      const l = r.pick(links);
      return X('bool', `(${r.pick(['', 'NOT '])}EXISTS (SELECT 1 FROM ${inner.name} ${alias} WHERE ${alias}.${l.inner} = ${l.outer.alias}.${l.outer.name}`, ...extra, '))');
    }
    if (kind === 1 && links.length) {
      const l = r.pick(links);
      return X('bool', `(${l.outer.alias}.${l.outer.name}${r.pick([' IN', ' NOT IN'])} (SELECT ${alias}.${l.inner} FROM ${inner.name} ${alias} WHERE `, this.pred(innerScope, 1), '))');
    }
    const ty = r.pick(NUMERIC);
    const c = this.col(innerScope, ty);
    const outer = this.col(scope, ty);
    if (!c || !outer) return this.pred(scope, 0);
    const agg = r.pick(['avg', 'max', 'min', 'sum']);
    return X('bool', '(', this.colExpr(outer), ` ${r.pick(['<', '>', '>=', '<>'])} (SELECT ${agg}(${alias}.${c.name}) FROM ${inner.name} ${alias} WHERE `, this.pred(innerScope, 1), '))');
  }

  // ---- aggregates and windows ------------------------------------------------------------------------

  /** An aggregate expression and its result type class. */
  aggregate(scope: Scope, depth: number): Expr {
    const r = this.rng;
    const arg = (ty: Ty): Expr => this.expr(scope, ty, r.int(depth));
    const num = (): Ty => this.ty(scope, NUMERIC);
    const ord = (): Ty => this.ty(scope, ORDERABLE);
    const filter = (): string[] | Array<string | Expr> => (r.chance(0.15) ? [' FILTER (WHERE ', this.pred(scope, 1), ')'] : []);
    const a = (ty: Ty, ...parts: Array<string | Expr>): Expr => ({ ty, parts, agg: true });
    const base: Array<[number, () => Expr]> = [
      [4, () => a('int', 'count(*)', ...filter())],
      [2, () => a('int', 'count(', arg(ord()), ')', ...filter())],
      [1, () => a('int', 'count(DISTINCT ', arg(ord()), ')')],
      [3, () => a('int', 'sum(', arg('int'), ')', ...filter())],
      [2, () => a('num', 'sum(', arg('num'), ')', ...filter())],
      [2, () => a('float', 'sum(', arg('float'), ')')],
      [3, () => {
        const t = num();
        return a(t === 'float' ? 'float' : 'num', 'avg(', arg(t), ')', ...filter());
      }],
      [4, () => {
        const t = this.ty(scope, ORDERABLE.filter((x) => x !== 'bool'));
        return a(t, r.pick(['min(', 'max(']), arg(t), ')', ...filter());
      }],
      [1, () => a('bool', r.pick(['bool_and(', 'bool_or(', 'every(']), this.pred(scope, 1), ')')],
      [1, () => {
        const t = num();
        return a(t === 'float' ? 'float' : 'num', r.pick(['stddev_samp(', 'stddev_pop(', 'var_samp(', 'var_pop(']), arg(t), ')');
      }],
      [1, () => {
        const x = arg('text');
        return a('text', 'string_agg(', x, `, ${q1(r.pick([',', ' | ', '']))} ORDER BY `, x, ')');
      }],
      [1, () => a('float', `percentile_cont(${r.pick(['0.5', '0.25', '0.9'])}) WITHIN GROUP (ORDER BY `, arg(r.pick(['float', 'int'])), ')')],
      [1, () => {
        const t = r.pick(ORDERABLE.filter((x) => x !== 'bool'));
        return a(t, `percentile_disc(${r.pick(['0.5', '0.1'])}) WITHIN GROUP (ORDER BY `, arg(t), ')');
      }],
    ];
    const inner = r.weighted(base)();
    // arithmetic over aggregates, as reports do
    if (!r.chance(0.3)) return inner;
    switch (inner.ty) {
      case 'int':
        return r.pick([X('int', '(', inner, ` ${r.pick(['+', '-', '*'])} `, String(r.range(1, 10)), ')'), X('int', 'COALESCE(', inner, ', 0)')]);
      case 'num':
        return r.pick([X('num', 'round(', inner, `, ${r.range(0, 3)})`), X('num', '(', inner, ' * 100)'), X('num', 'COALESCE(', inner, ', 0)')]);
      case 'float':
        return r.pick([X('float', 'round(', inner, ')'), X('float', '(', inner, ' * 2)')]);
      default:
        return inner;
    }
  }

  /** A window function over a non-grouped scope. Orders that must be total end with the primary key. */
  window(scope: Scope, depth: number): Expr {
    const r = this.rng;
    const part = r.chance(0.6) ? [' PARTITION BY ', this.leaf(scope, this.ty(scope, ['int', 'text', 'bool', 'date']))] : [];
    const key = this.leaf(scope, this.ty(scope, ['int', 'num', 'date', 'tstz', 'text', 'float']));
    const total = scope.pk ? [', ', ...scope.pk.flatMap((p, i) => (i ? [', ', p] : [p]))] : null;
    const w = (ty: Ty, ...parts: Array<string | Expr>): Expr => ({ ty, parts, win: true });
    const ranking: Array<[number, () => Expr]> = [
      [2, () => w('int', `${r.pick(['rank', 'dense_rank'])}() OVER (`, ...part, ' ORDER BY ', key, r.pick(['', ' DESC']), ')')],
      [2, () => {
        const t = r.pick(NUMERIC);
        const fn = r.pick(['sum', 'count', 'min', 'max', 'avg']);
        const ty: Ty = fn === 'count' ? 'int' : fn === 'avg' ? (t === 'float' ? 'float' : 'num') : t;
        return w(ty, `${fn}(`, this.expr(scope, t, depth), ') OVER (', ...part, ')');
      }],
      [1, () => w('float', `${r.pick(['percent_rank', 'cume_dist'])}() OVER (`, ...part, ' ORDER BY ', key, ')')],
      [1, () => w('int', 'count(*) OVER (', ...part, ' ORDER BY ', key, ')')],
    ];
    if (total) {
      ranking.push(
        [2, () => w('int', 'row_number() OVER (', ...part, ' ORDER BY ', key, ...total, ')')],
        [2, () => {
          const t = r.pick(ORDERABLE);
          return w(t, `${r.pick(['lag', 'lead'])}(`, this.expr(scope, t, depth), r.pick(['', ', 2']), ') OVER (', ...part, ' ORDER BY ', key, ...total, ')');
        }],
        [1, () => {
          const t = r.pick(ORDERABLE);
          return w(t, 'first_value(', this.expr(scope, t, depth), ') OVER (', ...part, ' ORDER BY ', key, ...total, ')');
        }],
        [1, () => w('int', `ntile(${r.range(2, 5)}) OVER (ORDER BY `, key, ...total, ')')],
        [1, () => {
          const t = r.pick(NUMERIC);
          return w(t === 'int' ? 'int' : t, 'sum(', this.expr(scope, t, depth), ') OVER (', ...part, ' ORDER BY ', key, ...total, ')');
        }],
      );
    }
    return r.weighted(ranking)();
  }

  // ---- statements ------------------------------------------------------------------------------------

  private tableScope(name: string, alias: string): Scope {
    const t = table(name);
    return {
      cols: t.columns.map((c) => ({ ...c, alias, key: `${name}.${c.name}` })),
      pk: t.pk.map((k) => X(t.columns.find((c) => c.name === k)!.ty, `${alias}.${k}`)),
    };
  }

  private name(): string {
    return `c${++this.nameN}`;
  }

  /** FROM a table and 0-2 joins along foreign keys. */
  private fromClause(): { from: From; joins: Join[]; scope: Scope } {
    const r = this.rng;
    const t0 = r.pick(TABLES).name;
    const a0 = `t${this.aliasN++}`;
    const scope = this.tableScope(t0, a0);
    const present: Array<{ table: string; alias: string }> = [{ table: t0, alias: a0 }];
    const joins: Join[] = [];
    let rows = ROWS[t0]!;
    const n = r.weighted([[6, 0], [3, 1], [1, 2]] as const);
    for (let i = 0; i < n; i++) {
      // along a foreign key, to the referenced row (no growth) or to the referencing rows (the join grows by
      // their ratio): kept under ~100k rows so both engines answer in well under a second
      const edges = FOREIGN_KEYS.flatMap((fk) =>
        present.flatMap((p) => [
          ...(fk.from === p.table ? [{ table: fk.to, grow: 1, on: (a: string) => `${a}.${fk.toCol} = ${p.alias}.${fk.col}` }] : []),
          ...(fk.to === p.table ? [{ table: fk.from, grow: ROWS[fk.from]! / ROWS[fk.to]!, on: (a: string) => `${a}.${fk.col} = ${p.alias}.${fk.toCol}` }] : []),
        ]),
      ).filter((e) => rows * Math.max(1, e.grow) <= 100_000);
      if (!edges.length) break;
      const edge = r.pick(edges);
      rows *= Math.max(1, edge.grow);
      const alias = `t${this.aliasN++}`;
      const kind = r.weighted<JoinKind>([[6, 'JOIN'], [3, 'LEFT JOIN'], [1, 'RIGHT JOIN'], [1, 'FULL JOIN']]);
      const js = this.tableScope(edge.table, alias);
      const on: Expr[] = [X('bool', edge.on(alias))];
      if (r.chance(0.15)) on.push(this.pred(js, 1));
      joins.push({ kind, table: edge.table, alias, on });
      scope.cols.push(...js.cols);
      present.push({ table: edge.table, alias });
    }
    if (joins.length) scope.pk = null;
    return { from: { table: t0, alias: a0 }, joins, scope };
  }

  private orderAll(n: number): OrderItem[] {
    const r = this.rng;
    const pos = Array.from({ length: n }, (_, i) => i + 1);
    // a random permutation of the positions
    for (let i = pos.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [pos[i], pos[j]] = [pos[j]!, pos[i]!];
    }
    return pos.map((p) => ({ pos: p, desc: r.chance(0.3), nulls: r.chance(0.2) ? r.pick(['FIRST', 'LAST'] as const) : null }));
  }

  private where(scope: Scope, max: number): Expr[] {
    const depth = this.opts.depth ?? 3;
    return Array.from({ length: this.rng.range(0, max) }, () => this.pred(scope, this.rng.range(0, depth - 1)));
  }

  /** SELECT keys, aggregates … GROUP BY keys [HAVING …]. */
  private aggregateQuery(from: { from: From; joins: Join[]; scope: Scope }, forSubquery: boolean): Query {
    const r = this.rng;
    const depth = this.opts.depth ?? 3;
    const keys = r.weighted([[2, 0], [4, 1], [3, 2], [1, 3]] as const);
    const select: SelectItem[] = [];
    for (let i = 0; i < keys; i++) {
      select.push({ e: this.expr(from.scope, this.ty(from.scope, [...ORDERABLE, 'uuid']), r.int(depth)), name: this.name() });
    }
    const aggs = r.range(1, 3);
    for (let i = 0; i < aggs; i++) select.push({ e: this.aggregate(from.scope, depth - 1), name: this.name() });
    // a window over the groups (its ORDER BY over every key is total: groups are unique)
    if (!forSubquery && keys > 0 && r.chance(0.15)) {
      const agg = select[keys]!.e;
      const keyExprs = select.slice(0, keys).map((s) => s.e);
      const order = keyExprs.flatMap((k, i) => (i ? [', ', k] : [k]));
      const numeric = agg.ty === 'int' || agg.ty === 'num' || agg.ty === 'float';
      const w = numeric && r.chance(0.5)
        ? X(agg.ty === 'int' ? 'num' : agg.ty, 'sum(', agg, ') OVER (ORDER BY ', ...order, ')')
        : X('int', 'rank() OVER (ORDER BY ', agg, ' DESC)');
      select.push({ e: { ...w, win: true }, name: this.name() });
    }
    const having = r.chance(0.2) ? [this.havingPred(from.scope)] : [];
    const q: Query = {
      distinct: false,
      select,
      grouped: true,
      keys,
      groupByText: r.chance(0.3),
      from: from.from,
      joins: from.joins,
      where: this.where(from.scope, 2),
      having,
      order: [],
      limit: null,
    };
    if (!forSubquery) this.finish(q, keys > 0 ? 0.75 : 0);
    return q;
  }

  private havingPred(scope: Scope): Expr {
    const a = this.aggregate(scope, 1);
    if (a.ty === 'bool') return a;
    const lit = a.ty === 'int' ? X('int', String(this.rng.pick([0, 1, 2, 5, 10, 100]))) : this.lit(a.ty);
    return X('bool', '(', a, ` ${this.rng.pick(['>', '>=', '<', '<>', '='])} `, lit, ')');
  }

  /** ORDER BY every output column (maybe with a LIMIT), or no ORDER BY and a comparison as a multiset. */
  private finish(q: Query, orderChance: number): void {
    if (this.rng.chance(orderChance)) {
      q.order = this.orderAll(q.select.length);
      if (this.rng.chance(0.5)) q.limit = this.rng.pick([0, 1, 3, 10, 25, 50]);
    }
  }

  /** SELECT expressions (and window functions) FROM … WHERE … ORDER BY all LIMIT n. */
  private rowQuery(from: { from: From; joins: Join[]; scope: Scope }): Query {
    const r = this.rng;
    const depth = this.opts.depth ?? 3;
    const n = r.range(1, 4);
    const select: SelectItem[] = [];
    for (let i = 0; i < n; i++) {
      const e = r.chance(0.2) ? this.window(from.scope, 1) : this.expr(from.scope, this.ty(from.scope, [...ORDERABLE, 'uuid']), r.int(depth + 1));
      select.push({ e, name: this.name() });
    }
    return {
      distinct: r.chance(0.15),
      select,
      grouped: false,
      keys: 0,
      groupByText: false,
      from: from.from,
      joins: from.joins,
      where: this.where(from.scope, 3),
      having: [],
      order: this.orderAll(n),
      limit: r.pick([5, 10, 20, 40, 60]),
    };
  }

  /** An aggregate query as a derived table or CTE, read by an outer query. */
  private derivedQuery(): Query {
    const r = this.rng;
    const inner = this.aggregateQuery(this.fromClause(), true);
    const alias = `s${this.aliasN++}`;
    const scope: Scope = { cols: inner.select.map((s) => ({ name: s.name, ty: s.e.ty, pg: '', nullable: true, alias, key: null })), pk: null };
    const from: From = { sub: inner, alias, cte: r.chance(0.4) };
    if (r.chance(0.4)) {
      // aggregate again over the groups
      const select = Array.from({ length: r.range(1, 3) }, () => ({ e: this.aggregate(scope, 1), name: this.name() }));
      return { distinct: false, select, grouped: true, keys: 0, groupByText: false, from, joins: [], where: this.where(scope, 1), having: [], order: [], limit: null };
    }
    const n = r.range(1, 3);
    const select = Array.from({ length: n }, () => ({ e: this.expr(scope, r.pick(scope.cols).ty, r.int(2)), name: this.name() }));
    const q: Query = { distinct: r.chance(0.2), select, grouped: false, keys: 0, groupByText: false, from, joins: [], where: this.where(scope, 2), having: [], order: [], limit: null };
    this.finish(q, 0.7);
    return q;
  }

  /** Two queries of the same column types combined (UNION, INTERSECT, EXCEPT), read by an outer query. */
  private setOpQuery(): Query {
    const r = this.rng;
    const types = Array.from({ length: r.range(1, 3) }, () => r.pick([...ORDERABLE, 'uuid'] as Ty[]));
    const side = (): Query => {
      const f = this.fromClause();
      const select = types.map((t) => ({ e: this.expr(f.scope, t, r.int(2)), name: this.name() }));
      return { distinct: false, select, grouped: false, keys: 0, groupByText: false, from: f.from, joins: f.joins, where: this.where(f.scope, 2), having: [], order: [], limit: null };
    };
    const left = side();
    const right = side();
    const alias = `s${this.aliasN++}`;
    const scope: Scope = { cols: left.select.map((s) => ({ name: s.name, ty: s.e.ty, pg: '', nullable: true, alias, key: null })), pk: null };
    const from: From = { op: r.pick<SetOp>(['UNION', 'UNION ALL', 'UNION ALL', 'INTERSECT', 'EXCEPT', 'EXCEPT ALL']), left, right, alias };
    if (r.chance(0.4)) {
      const select = Array.from({ length: r.range(1, 2) }, () => ({ e: this.aggregate(scope, 1), name: this.name() }));
      return { distinct: false, select, grouped: true, keys: 0, groupByText: false, from, joins: [], where: this.where(scope, 1), having: [], order: [], limit: null };
    }
    const select = Array.from({ length: r.range(1, 3) }, () => ({ e: this.expr(scope, r.pick(scope.cols).ty, r.int(2)), name: this.name() }));
    const q: Query = { distinct: false, select, grouped: false, keys: 0, groupByText: false, from, joins: [], where: this.where(scope, 1), having: [], order: [], limit: null };
    this.finish(q, 0.7);
    return q;
  }

  query(): Query {
    const r = this.rng;
    const shape = r.weighted([[5, 'aggregate'], [3, 'rows'], [2, 'derived'], [1, 'setop']] as const);
    let q: Query;
    if (shape === 'aggregate') q = this.aggregateQuery(this.fromClause(), false);
    else if (shape === 'rows') q = this.rowQuery(this.fromClause());
    else if (shape === 'derived') q = this.derivedQuery();
    else q = this.setOpQuery();
    // the grammar above only puts aggregates where they are valid; a sanity check for the generator
    if (!q.grouped && q.select.some((s) => hasAggregate(s.e))) throw new Error('generator bug: aggregate in a non-grouped query');
    return q;
  }
}
