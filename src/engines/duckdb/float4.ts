// float4 (real) as Postgres's operator resolution types it. Postgres has float4 operators only for
// float4 with float4 (and with float8); a real with an integer or a numeric resolves, by the preferred
// type of the numeric category, to the float8 operator: `real_col = 0.1` compares real_col widened to
// float8 with 0.1 read as float8, and `real_col * 100` multiplies in float8 (parse_oper.c,
// oper_select_candidate; typecast.sgml "Operator Type Resolution", step 3.d). DuckDB computes both in
// FLOAT (0.1 becomes float4 0.1 and matches; the product is rounded to float4). Functions that exist for
// float8 only (sqrt, exp, ln, power, ceil, floor, sign, round, avg, stddev, …) widen their argument too.
// Where Postgres chooses a common type instead (CASE, COALESCE, GREATEST/LEAST, NULLIF, UNION, an IN list
// of more than one constant) a real with an integer or a numeric stays real (numeric and integers are
// implicitly cast to float4, float4 is not implicitly cast to them: parse_coerce.c select_common_type),
// as in DuckDB, except that a numeric constant must then be read as Postgres's float4in reads it.
//
// This pass types every expression of a statement as far as float4 matters and marks what the rewrite
// must change: a float4 operand widened to DOUBLE, a numeric constant read as DOUBLE or FLOAT from its
// text (correctly rounded, as Postgres's strtod/strtof), or a refusal where an operand's type is not
// known (a real could hide behind it). Pure, over libpg-query's parse tree; column types come from the
// DuckDB relations the statement reads (their FLOAT columns are Postgres's real columns).
type Node = Record<string, any>;

/** What matters of an expression's Postgres type here. 'exact': integers and numeric; 'str': an untyped literal. */
export type Ty = 'f4' | 'f8' | 'exact' | 'str' | 'other' | '?';

export interface Float4Marks {
  /** expressions to wrap in CAST(… AS DOUBLE) */
  widen: WeakSet<object>;
  /** numeric constants to write as CAST('text' AS DOUBLE) or CAST('text' AS FLOAT) */
  constAs: WeakMap<object, 'DOUBLE' | 'FLOAT'>;
  /**
   * numeric parameters compared with a column of integer or numeric type: only there does the value
   * alone decide (elsewhere Postgres's result keeps the parameter's scale, or compares in float8)
   */
  numericParams: WeakSet<object>;
  /** why the statement cannot be translated exactly, or null */
  refusal: string | null;
}

export interface Float4Env {
  /** DuckDB type names of a table's columns in order (null: not known, e.g. a CTE or no facts) */
  columns(schema: string | null, name: string): ReadonlyArray<[string, string]> | null;
  /** the statement's parameter types (Postgres OIDs) */
  paramTypeOids: readonly number[];
}

type Cols = Array<[string, Ty]> | null;
interface Item {
  name: string;
  cols: Cols;
}
interface Scope {
  items: Item[];
  parent: Scope | null;
}

const COMPARE = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);
const ARITH = new Set(['+', '-', '*', '/', '%']);
/** float8-only functions (or float4 widened by Postgres's resolution): the argument is widened */
const F8_ARG = new Set(['sqrt', 'cbrt', 'exp', 'ln', 'log', 'log10', 'power', 'pow', 'ceil', 'ceiling', 'floor', 'sign', 'round', 'trunc', 'avg', 'stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop', 'corr', 'covar_pop', 'covar_samp', 'regr_slope', 'regr_intercept', 'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2']);
/** functions whose result has the type of their (first) argument */
const SAME_AS_ARG = new Set(['abs', 'min', 'max', 'sum', 'lag', 'lead', 'first_value', 'last_value', 'nth_value', 'any_value']);
const EXACT_RESULT = new Set(['count', 'row_number', 'rank', 'dense_rank', 'ntile', 'length', 'char_length', 'character_length', 'strpos', 'position', 'mod', 'extract', 'octet_length', 'bit_length', 'width_bucket', 'div', 'gcd', 'lcm', 'scale']);
const F8_RESULT = new Set(['percent_rank', 'cume_dist', 'date_part', 'percentile_cont', 'random', 'pi']);
const OTHER_RESULT = new Set(['lower', 'upper', 'concat', 'concat_ws', 'substr', 'substring', 'replace', 'btrim', 'ltrim', 'rtrim', 'trim', 'left', 'right', 'reverse', 'repeat', 'lpad', 'rpad', 'md5', 'split_part', 'to_char', 'date_trunc', 'now', 'transaction_timestamp', 'string_agg', 'array_agg', 'bool_and', 'bool_or', 'every', 'starts_with', 'initcap', 'age', 'make_date', 'date_bin', 'to_timestamp', 'regexp_replace']);

function duckTy(t: string): Ty {
  const u = t.toUpperCase();
  if (u === 'FLOAT' || u === 'REAL' || u === 'FLOAT4') return 'f4';
  if (u === 'DOUBLE' || u === 'FLOAT8') return 'f8';
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL)/.test(u)) return 'exact';
  return 'other';
}

function castTy(tn: Node): Ty {
  const names: string[] = (tn?.names ?? []).map((n: Node) => n.String?.sval as string);
  if (tn?.arrayBounds?.length) return 'other';
  const name = names[names.length - 1] ?? '';
  if (name === 'float4' || name === 'real') return 'f4';
  if (name === 'float8') return 'f8';
  if (/^(int2|int4|int8|smallint|integer|int|bigint|numeric|decimal)$/.test(name)) return 'exact';
  return 'other';
}

function oidTy(oid: number | undefined): Ty {
  if (oid === 700) return 'f4';
  if (oid === 701) return 'f8';
  if (oid === 20 || oid === 21 || oid === 23 || oid === 1700) return 'exact';
  if (oid === undefined || oid === 0) return '?';
  return 'other';
}

/** The common type of CASE/COALESCE branches as far as float4 goes. */
function common(ts: Ty[]): Ty {
  const known = ts.filter((t) => t !== 'str');
  if (known.length === 0) return 'str';
  if (known.includes('?')) return '?';
  if (known.includes('f8')) return 'f8';
  if (known.includes('f4')) return known.every((t) => t === 'f4' || t === 'exact') ? 'f4' : '?';
  return known.every((t) => t === known[0]) ? known[0]! : known.includes('other') ? 'other' : 'exact';
}

/** A numeric constant (with a point or exponent) that Postgres types numeric. */
function numericConst(n: Node | undefined): Node | null {
  const c = n?.A_Const;
  return c && c.fval !== undefined ? c : null;
}

function intConst(n: Node | undefined): boolean {
  return n?.A_Const?.ival !== undefined;
}

class Pass {
  readonly marks: Float4Marks = { widen: new WeakSet(), constAs: new WeakMap(), numericParams: new WeakSet(), refusal: null };
  /** whether a float4 may occur anywhere (a FLOAT column, an unknown relation, a cast or a parameter) */
  mayFloat4 = false;
  private ctes: Array<Map<string, Cols>> = [];

  constructor(private readonly env: Float4Env) {}

  refuse(reason: string): void {
    this.marks.refusal ??= reason;
  }

  /** A SELECT's output columns (null: not known). */
  select(s: Node, parent: Scope | null): Cols {
    let pushed = false;
    if (s.withClause) {
      const m = new Map<string, Cols>();
      this.ctes.push(m);
      pushed = true;
      for (const c of (s.withClause.ctes ?? []) as Node[]) {
        const cte = c.CommonTableExpr;
        let out = cte.ctequery?.SelectStmt ? this.select(cte.ctequery.SelectStmt, parent) : null;
        const names = (cte.aliascolnames as Node[] | undefined)?.map((x) => x.String.sval as string);
        if (out && names) out = out.map(([n, t], i) => [names[i] ?? n, t]);
        m.set(cte.ctename, out);
      }
    }
    try {
      if (s.op && s.op !== 'SETOP_NONE') {
        const l = this.select(s.larg, parent);
        const r = this.select(s.rarg, parent);
        if (!l || !r || l.length !== r.length) return null;
        // UNION resolves each column's common type (float4 with integers/numeric stays float4), as
        // DuckDB does; a numeric constant in an arm is then read as float4 where the column is float4
        const out: Array<[string, Ty]> = l.map(([n, t], i) => [n, common([t, r[i]![1]])]);
        out.forEach(([, t], i) => {
          if (t !== 'f4') return;
          for (const [arm, cols] of [[s.larg, l], [s.rarg, r]] as const) {
            if (cols[i]![1] !== 'exact') continue;
            const v = (arm?.targetList as Node[] | undefined)?.[i]?.ResTarget?.val as Node | undefined;
            if (numericConst(v)) this.marks.constAs.set(v!, 'FLOAT');
            else if (!intConst(v)) this.refuse('a numeric value made float4 by a set operation');
          }
        });
        return out;
      }
      if (s.valuesLists) return null;
      const scope: Scope = { items: [], parent };
      for (const f of (s.fromClause ?? []) as Node[]) this.fromItem(f, scope);
      for (const w of [s.whereClause, s.havingClause]) if (w) this.expr(w, scope);
      for (const g of (s.groupClause ?? []) as Node[]) this.expr(g, scope);
      for (const d of (s.distinctClause ?? []) as Node[]) if (Object.keys(d).length) this.expr(d, scope);
      const out: Array<[string, Ty]> = [];
      let known = true;
      for (const t of (s.targetList ?? []) as Node[]) {
        const rt = t.ResTarget;
        const v = rt.val as Node;
        if (v.ColumnRef && (v.ColumnRef.fields as Node[]).some((f) => f.A_Star)) {
          const fields = v.ColumnRef.fields as Node[];
          const items = fields.length === 1 ? scope.items : scope.items.filter((it) => it.name === fields[fields.length - 2]?.String?.sval);
          for (const it of items) {
            if (!it.cols) known = false;
            else out.push(...it.cols);
          }
          continue;
        }
        const ty = this.expr(v, scope);
        out.push([rt.name ?? outputName(v), ty]);
      }
      for (const b of (s.sortClause ?? []) as Node[]) this.expr(b.SortBy.node, scope);
      for (const x of [s.limitCount, s.limitOffset]) if (x) this.expr(x, scope);
      return known ? out : null;
    } finally {
      if (pushed) this.ctes.pop();
    }
  }

  private fromItem(f: Node, scope: Scope): void {
    if (f.RangeVar) {
      const r = f.RangeVar;
      const alias = r.alias?.aliasname ?? r.relname;
      let cols: Cols = null;
      const cte = !r.schemaname ? this.ctes.slice().reverse().find((m) => m.has(r.relname)) : undefined;
      if (cte) cols = cte.get(r.relname) ?? null;
      else {
        const c = this.env.columns(r.schemaname ?? null, r.relname);
        if (c === null) this.mayFloat4 = true;
        else {
          cols = c.map(([n, t]) => [n, duckTy(t)]);
          if (cols.some(([, t]) => t === 'f4')) this.mayFloat4 = true;
        }
      }
      if (cols && r.alias?.colnames) {
        const names = (r.alias.colnames as Node[]).map((x) => x.String.sval as string);
        cols = cols.map(([n, t], i) => [names[i] ?? n, t]);
      }
      scope.items.push({ name: alias, cols });
      return;
    }
    if (f.JoinExpr) {
      const j = f.JoinExpr;
      const before = scope.items.length;
      this.fromItem(j.larg, scope);
      const middle = scope.items.length;
      this.fromItem(j.rarg, scope);
      if (j.quals) this.expr(j.quals, scope);
      // USING (c) compares left.c = right.c with the = operator's resolution
      for (const u of (j.usingClause ?? []) as Node[]) {
        const side = (items: Item[]): Ty => {
          const found = items.flatMap((it) => (it.cols ? it.cols.filter(([n]) => n === u.String.sval).map(([, t]) => t) : ['?' as Ty]));
          return found.length === 1 ? found[0]! : '?';
        };
        const l = side(scope.items.slice(before, middle));
        const r = side(scope.items.slice(middle));
        if (this.mixes(l, r) || (l !== r && (l === 'f4' || r === 'f4'))) this.refuse('JOIN USING a float4 column and another type');
      }
      return;
    }
    if (f.RangeSubselect) {
      const r = f.RangeSubselect;
      let cols = r.subquery?.SelectStmt ? this.select(r.subquery.SelectStmt, r.lateral ? scope : scope.parent) : null;
      if (cols && r.alias?.colnames) {
        const names = (r.alias.colnames as Node[]).map((x) => x.String.sval as string);
        cols = cols.map(([n, t], i) => [names[i] ?? n, t]);
      }
      scope.items.push({ name: r.alias?.aliasname ?? '', cols });
      return;
    }
    if (f.RangeFunction) {
      // generate_series over integers or timestamps: no float4 column
      const r = f.RangeFunction;
      const name = r.alias?.aliasname ?? 'generate_series';
      const col = (r.alias?.colnames as Node[] | undefined)?.[0]?.String?.sval ?? name;
      scope.items.push({ name, cols: [[col, '?']] });
      return;
    }
    scope.items.push({ name: '', cols: null });
  }

  private column(c: Node, scope: Scope): Ty {
    let fields = (c.fields as Node[]).map((f) => f.String?.sval as string | undefined);
    if (fields.length === 3) fields = fields.slice(1);
    const col = fields[fields.length - 1];
    const table = fields.length === 2 ? fields[0] : undefined;
    if (col === undefined) return '?';
    for (let s: Scope | null = scope; s; s = s.parent) {
      const items = table === undefined ? s.items : s.items.filter((it) => it.name === table);
      const found: Ty[] = [];
      let unknown = false;
      for (const it of items) {
        if (!it.cols) unknown = true;
        else for (const [n, t] of it.cols) if (n === col) found.push(t);
      }
      if (found.length > 0) return !unknown && found.every((t) => t === found[0]) ? found[0]! : '?';
      if (unknown) return '?';
      if (table !== undefined && items.length > 0) return '?';
    }
    return '?';
  }

  /** Types an expression, marks what the rewrite must change in it, returns its type. */
  expr(n: Node | undefined, scope: Scope): Ty {
    if (!n || typeof n !== 'object') return 'other';
    const key = Object.keys(n)[0]!;
    const v = n[key] as Node;
    switch (key) {
      case 'A_Const':
        if (v.isnull || v.sval !== undefined) return 'str';
        if (v.ival !== undefined || v.fval !== undefined) return 'exact';
        return 'other';
      case 'ColumnRef':
        return this.column(v, scope);
      case 'ParamRef': {
        const t = oidTy(this.env.paramTypeOids[v.number - 1]);
        if (t === 'f4' || t === '?') this.mayFloat4 = true;
        return t;
      }
      case 'TypeCast': {
        const t = castTy(v.typeName);
        if (t === 'f4') this.mayFloat4 = true;
        const inner = this.expr(v.arg, scope);
        // a numeric constant cast to real: float4in of its text (correctly rounded); a numeric value is
        // converted by Postgres through its text (numeric_float4), by DuckDB from its binary decimal
        if (t === 'f4' && numericConst(v.arg)) this.marks.constAs.set(v.arg, 'FLOAT');
        else if (t === 'f4' && (inner === 'exact' || inner === '?') && !intConst(v.arg)) this.refuse('a cast to real of a numeric value');
        return t;
      }
      case 'A_Expr':
        return this.aExpr(v, scope);
      case 'BoolExpr':
        for (const a of (v.args ?? []) as Node[]) this.expr(a, scope);
        return 'other';
      case 'NullTest':
      case 'BooleanTest':
        this.expr(v.arg, scope);
        return 'other';
      case 'CaseExpr': {
        if (v.arg) {
          // CASE x WHEN y: x = y with the = operator's resolution
          const x = this.expr(v.arg, scope);
          const whens = ((v.args ?? []) as Node[]).map((w) => w.CaseWhen.expr as Node);
          const ts = whens.map((w) => this.expr(w, scope));
          // x is evaluated once for every WHEN: widened for one, it is widened for all
          if (x === 'f4' && ts.includes('exact') && ts.some((t) => t !== 'exact' && t !== 'f8')) this.refuse('CASE over a float4 with WHEN values of mixed types');
          whens.forEach((w, i) => this.operands('=', v.arg, w, x, ts[i]!, true));
        } else for (const w of (v.args ?? []) as Node[]) this.expr(w.CaseWhen.expr, scope);
        const branches = [...((v.args ?? []) as Node[]).map((w) => w.CaseWhen.result as Node), ...(v.defresult ? [v.defresult as Node] : [])];
        return this.commonOf(branches, scope);
      }
      case 'CoalesceExpr':
      case 'MinMaxExpr':
        return this.commonOf((v.args ?? []) as Node[], scope);
      case 'FuncCall':
        return this.func(v, scope);
      case 'SubLink': {
        const out = v.subselect?.SelectStmt ? this.select(v.subselect.SelectStmt, scope) : null;
        if (v.subLinkType === 'EXPR_SUBLINK') return out?.length === 1 ? out[0]![1] : '?';
        if (v.testexpr) {
          const t = this.expr(v.testexpr, scope);
          const inner = out?.length === 1 ? out[0]![1] : '?';
          const unknown = this.mayFloat4 && ((t === '?' && inner !== 'other') || (inner === '?' && t !== 'other'));
          if (this.mixes(t, inner) || unknown) this.refuse('float4 compared with a subquery of another or unknown numeric type');
        }
        return 'other';
      }
      case 'List':
        for (const a of (v.items ?? []) as Node[]) this.expr(a, scope);
        return 'other';
      case 'SQLValueFunction':
        return 'other';
      default:
        // anything else is refused by the rewrite itself; its parts may still be typed
        return '?';
    }
  }

  /** A float4 on one side and an integer/numeric, or an unknown type, on the other. */
  private mixes(a: Ty, b: Ty): boolean {
    return (a === 'f4' && (b === 'exact' || b === '?')) || (b === 'f4' && (a === 'exact' || a === '?'));
  }

  private commonOf(branches: Node[], scope: Scope): Ty {
    const ts = branches.map((b) => this.expr(b, scope));
    const t = common(ts);
    if (t === 'f4') {
      // integers and numeric branches become float4: constants from their text; a numeric value that is
      // not a constant is converted by DuckDB from its binary decimal (not float4in's text reading)
      branches.forEach((b, i) => {
        if (ts[i] !== 'exact') return;
        if (numericConst(b)) this.marks.constAs.set(b, 'FLOAT');
        else if (!intConst(b)) this.refuse('a numeric value made float4 by CASE/COALESCE');
      });
    }
    if (t === '?' && this.mayFloat4 && ts.some((x) => x === 'exact' || x === 'f4')) this.refuse('CASE/COALESCE branches of unknown and numeric types where float4 may occur');
    return t;
  }

  /**
   * A binary operator's operands: widen a float4 side against an integer/numeric side (and read a numeric
   * constant there as float8 from its text), refuse against an unknown type. Returns the result type.
   */
  private operands(op: string, ln: Node | undefined, rn: Node | undefined, l: Ty, r: Ty, compare: boolean): Ty {
    if (compare) {
      const numericParam = (p: Node | undefined, other: Node | undefined, t: Ty): void => {
        if (p?.ParamRef && this.env.paramTypeOids[p.ParamRef.number - 1] === 1700 && other?.ColumnRef && t === 'exact') this.marks.numericParams.add(p);
      };
      numericParam(ln, rn, r);
      numericParam(rn, ln, l);
    }
    const widenSide = (side: Node | undefined, other: Node | undefined): void => {
      if (side) this.marks.widen.add(side);
      if (numericConst(other)) this.marks.constAs.set(other!, 'DOUBLE');
    };
    if (l === 'f4' && r === 'exact') widenSide(ln, rn);
    else if (r === 'f4' && l === 'exact') widenSide(rn, ln);
    else if ((l === 'f4' && r === '?') || (r === 'f4' && l === '?') || (this.mayFloat4 && ((l === '?' && (r === 'exact' || r === '?')) || (r === '?' && l === 'exact')))) {
      this.refuse(`operator ${op} between operands whose types are not known where float4 may occur`);
    }
    if (compare) return 'other';
    if (l === 'other' || r === 'other') return 'other';
    if (l === '?' || r === '?') return '?';
    if (l === 'f8' || r === 'f8') return 'f8';
    if (l === 'f4' && r === 'f4') return 'f4';
    if (l === 'f4' || r === 'f4') return (l === 'f4' ? r : l) === 'str' ? 'f4' : 'f8';
    if (l === 'str' && r === 'str') return '?';
    return 'exact';
  }

  private aExpr(v: Node, scope: Scope): Ty {
    const op = ((v.name ?? []) as Node[]).map((x) => x.String?.sval).join('.');
    switch (v.kind) {
      case 'AEXPR_OP': {
        if (!v.lexpr) {
          const t = this.expr(v.rexpr, scope);
          return op === '-' || op === '+' ? t : 'other';
        }
        const l = this.expr(v.lexpr, scope);
        const r = this.expr(v.rexpr, scope);
        if (COMPARE.has(op)) return this.operands(op, v.lexpr, v.rexpr, l, r, true);
        if (ARITH.has(op)) return this.operands(op, v.lexpr, v.rexpr, l, r, false);
        if (l === 'f4' || r === 'f4') this.refuse(`operator ${op} with a float4 operand`);
        return 'other';
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT':
      case 'AEXPR_NULLIF': {
        const l = this.expr(v.lexpr, scope);
        const r = this.expr(v.rexpr, scope);
        // NULLIF(a, b) returns a in a's type: a widened real would come back as a DOUBLE
        if (v.kind === 'AEXPR_NULLIF' && this.mixes(l, r)) this.refuse('NULLIF of a float4 and another numeric type');
        const t = this.operands('=', v.lexpr, v.rexpr, l, r, true);
        return v.kind === 'AEXPR_NULLIF' ? l : t;
      }
      case 'AEXPR_IN': {
        const l = this.expr(v.lexpr, scope);
        const items = ((v.rexpr?.List?.items ?? []) as Node[]);
        const ts = items.map((i) => this.expr(i, scope));
        if (items.length === 1) {
          this.operands('=', v.lexpr, items[0], l, ts[0]!, true);
          return 'other';
        }
        // More than one item: Postgres compares with the common type of the left side and the items
        // that are not columns (the columns each with =, parse_expr.c transformAExprIn).
        if (l === 'f4' && ts.every((t, i) => (t === 'exact' || t === 'str' || t === 'f4') && !items[i]!.ColumnRef)) {
          items.forEach((it, i) => {
            if (ts[i] === 'exact' && numericConst(it)) this.marks.constAs.set(it, 'FLOAT');
            else if (ts[i] === 'exact' && !intConst(it)) this.refuse('IN list of numeric values compared with float4');
          });
          return 'other';
        }
        if (l === 'f4' ? !ts.every((t) => t === 'f8') : ts.includes('f4') || (this.mayFloat4 && (l === '?' || ts.includes('?')) && [l, ...ts].some((t) => t === 'exact' || t === '?')))
          this.refuse('IN list mixing float4 with other or unknown numeric types');
        return 'other';
      }
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN': {
        const l = this.expr(v.lexpr, scope);
        const [a, b] = (v.rexpr?.List?.items ?? []) as Node[];
        const ta = this.expr(a, scope);
        const tb = this.expr(b, scope);
        // x BETWEEN a AND b is x >= a AND x <= b (each resolved as an operator); a float4 x is widened
        // once for both bounds, which needs both bounds to call for it
        if (l === 'f4' && ta === 'exact' && tb === 'exact') {
          this.marks.widen.add(v.lexpr);
          for (const x of [a, b]) if (numericConst(x)) this.marks.constAs.set(x!, 'DOUBLE');
        } else if (l === 'f4' ? !((ta === 'f4' || ta === 'str' || ta === 'f8') && (tb === 'f4' || tb === 'str' || tb === 'f8')) : ta === 'f4' || tb === 'f4' || (this.mayFloat4 && [l, ta, tb].includes('?')))
          this.refuse('BETWEEN mixing float4 with other or unknown numeric types');
        return 'other';
      }
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE':
        this.expr(v.lexpr, scope);
        this.expr(v.rexpr, scope);
        return 'other';
      default:
        this.expr(v.lexpr, scope);
        this.expr(v.rexpr, scope);
        return '?';
    }
  }

  private func(fc: Node, scope: Scope): Ty {
    const names = ((fc.funcname ?? []) as Node[]).map((x) => x.String?.sval as string);
    const name = names[names.length - 1] ?? '';
    const args = (fc.args ?? []) as Node[];
    const ts = args.map((a) => this.expr(a, scope));
    if (fc.agg_filter) this.expr(fc.agg_filter, scope);
    for (const b of (fc.agg_order ?? []) as Node[]) this.expr(b.SortBy.node, scope);
    if (fc.over) {
      for (const p of (fc.over.partitionClause ?? []) as Node[]) this.expr(p, scope);
      for (const b of (fc.over.orderClause ?? []) as Node[]) this.expr(b.SortBy.node, scope);
    }
    if (fc.agg_star) return name === 'count' ? 'exact' : '?';
    // percentile_disc(f) / mode() WITHIN GROUP (ORDER BY x): a value of x
    if (name === 'percentile_disc' || name === 'mode') return this.expr(((fc.agg_order ?? []) as Node[])[0]?.SortBy?.node, scope);
    if (F8_ARG.has(name)) {
      args.forEach((a, i) => {
        if (ts[i] === 'f4') this.marks.widen.add(a);
        else if (ts[i] === '?' && this.mayFloat4) this.refuse(`${name}() of an argument whose type is not known where float4 may occur`);
      });
      // round(x, n) and trunc(x, n) are numeric; power/sqrt/… of integers/numeric are numeric too
      return ts.some((t) => t === 'f4' || t === 'f8') ? 'f8' : ts.every((t) => t === 'exact') ? 'exact' : '?';
    }
    // sum(real) adds in float4 in Postgres (float4pl, each step rounded), in DOUBLE in DuckDB
    if (name === 'sum' && ts[0] === 'f4') this.refuse('sum(real) accumulates in float4 in Postgres');
    if (SAME_AS_ARG.has(name)) {
      // lag/lead(x, n, default): the default takes x's type (class 3 of issue 10 is about its scale)
      if ((name === 'lag' || name === 'lead') && ts.length === 3 && this.mixes(ts[0]!, ts[2]!)) this.refuse(`${name}() default of another numeric type than a float4 value`);
      return ts[0] ?? '?';
    }
    if (EXACT_RESULT.has(name)) return 'exact';
    if (F8_RESULT.has(name)) return 'f8';
    if (OTHER_RESULT.has(name)) return 'other';
    if (name === 'coalesce' || name === 'greatest' || name === 'least' || name === 'nullif') return this.commonOf(args, scope);
    if (ts.includes('f4')) this.refuse(`${name}() of a float4 argument`);
    return '?';
  }
}

function outputName(v: Node): string {
  if (v.ColumnRef) {
    const f = v.ColumnRef.fields as Node[];
    return (f[f.length - 1]?.String?.sval as string | undefined) ?? '?column?';
  }
  if (v.FuncCall) {
    const f = v.FuncCall.funcname as Node[];
    return (f[f.length - 1]?.String?.sval as string | undefined) ?? '?column?';
  }
  if (v.TypeCast) return outputName(v.TypeCast.arg);
  return '?column?';
}

/** The marks for one SELECT statement (its parse tree's SelectStmt). */
export function float4Marks(select: Node, env: Float4Env): Float4Marks {
  const p = new Pass(env);
  // one pass to learn whether a float4 can occur at all (unknown relations, FLOAT columns, casts,
  // parameters), then the real one with that knowledge: without float4, nothing is refused or widened
  p.select(select, null);
  const q = new Pass(env);
  q.mayFloat4 = p.mayFloat4;
  q.select(select, null);
  return q.marks;
}
