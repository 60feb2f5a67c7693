// Facts about one parsed statement: what it is, what it reads, which functions and syntax it uses.
// Pure and independent of the mirror and of the session (so it can be cached by statement text);
// names are resolved against the mirror and search_path later, in decide.ts.
//
// The walk is an allowlist too: an expression node type not listed in SAFE_NODES (XML, JSON
// constructors, COLLATE, …) marks the statement `unsupported`, and it goes to Postgres.
import { AGGREGATES, isCatalogFunction, isCatalogType, TIME_FUNCTIONS } from './functions.js';
import type { SessionEffect } from './types.js';

export interface TableRef {
  schema: string | null;
  name: string;
  /** database name of a three-part name (db.schema.table) */
  catalog: string | null;
}

/** A column reference, kept with its scope so it can be resolved once the mirror is known. */
export interface ColumnUse {
  scope: number;
  /** [] unqualified, [alias] or [schema, table] */
  qualifier: string[];
  /** column name, or '*' */
  column: string;
  /** a bare name directly in ORDER BY / GROUP BY: may name an output column */
  aliasOk: boolean;
  /** How little of the value this use reads (UseLevel); 0 when unset. */
  level?: UseLevel;
  /**
   * Compared for (in)equality with string literals only: `c = 'x'`, `c <> 'x'`, `c IN ('x', 'y')`. For an
   * enum, Postgres has already checked such labels when it parsed the statement (an unknown one is its
   * error), and equal labels are equal values.
   */
  labelEquality?: boolean;
}

/**
 * How little of a column's value a use reads, each level allowing what the ones above it allow:
 * - 3 output: only output by the top-level SELECT, counted (not DISTINCT) or tested for NULL (json/jsonb
 *   columns are allowed only so);
 * - 2 grouped: also grouped, made DISTINCT or counted DISTINCT (enum columns are allowed only so);
 * - 1 ordered: also ordered or min/max'ed (char(n) columns are allowed only so);
 * - 0 value: compared, measured or transformed.
 */
export type UseLevel = 0 | 1 | 2 | 3;
export const USE_OUTPUT = 3;
export const USE_GROUPED = 2;
export const USE_ORDERED = 1;

/** A FROM item as seen by column references of its scope. */
export interface Source {
  /** the name references use: the alias, else the relation / CTE / function name */
  alias: string | null;
  /** schema a reference may add (`public.t.c`) when the table has no alias */
  qualSchema: string | null;
  /** indices into StatementFacts.tables; several for an aliased join */
  tables: number[];
  /** a subquery, CTE or function: its own columns were recorded inside it */
  derived: boolean;
  /** derived output column names, when known */
  columns: string[] | null;
}

export interface Scope {
  parent: number | null;
  sources: Source[];
  /** output column names (for ORDER BY / GROUP BY by name) */
  outputNames: string[];
}

/** What the session itself handles: SET/RESET/SHOW duckgate.* */
export type DuckgateCommand =
  | { kind: 'set'; name: string; value: string | null; local: boolean; bad: string | null }
  | { kind: 'show'; name: string };

export interface StatementFacts {
  /** no data-modifying part (DML, SELECT INTO, data-modifying WITH, DDL) */
  readOnly: boolean;
  /** the parser's node type: 'SelectStmt', 'InsertStmt', 'VariableSetStmt', … */
  kind: string;
  /** every relation named, CTE references excluded, in order of appearance */
  tables: TableRef[];
  /** functions called, lowercased, `pg_catalog.` stripped (other schemas kept: 'myschema.f') */
  functions: string[];
  /** operators used, `OPERATOR(pg_catalog.~)` counted as '~' */
  operators: string[];
  /** cast target types */
  types: string[];
  hasAggregate: boolean;
  hasWindow: boolean;
  hasGroupBy: boolean;
  hasDistinct: boolean;
  hasOrderBy: boolean;
  hasSubquery: boolean;
  hasSetOperation: boolean;
  /** top-level LIMIT: a constant, 'param' ($n), or null (none / ALL) */
  limit: number | 'param' | null;
  /** FOR UPDATE / SHARE / NO KEY UPDATE / KEY SHARE */
  locking: boolean;
  /** uses now(), current_date, … */
  timeDependent: boolean;
  /** why this is a catalog query by its syntax (reg* cast, pg_* function), else null */
  catalog: string | null;
  /** syntax the router does not trust DuckDB with, else null */
  unsupported: string | null;
  /** why it is not read-only, else null */
  writeDetail: string | null;
  scopes: Scope[];
  columnUses: ColumnUse[];
  /** top-level WHERE conjuncts `col = const|$n` (and `col IN (consts)`, `col = ANY($n)`), scope 0 */
  equalities: Array<{ qualifier: string[]; column: string }>;
  effects: SessionEffect[];
  duckgate: DuckgateCommand | null;
}

type Obj = Record<string, unknown>;

/** Node types the walk knows are plain expression plumbing, safe to descend into. */
const SAFE_NODES: ReadonlySet<string> = new Set([
  'A_Const', 'ParamRef', 'BoolExpr', 'CaseExpr', 'CaseWhen', 'NullTest', 'BooleanTest', 'A_ArrayExpr', 'A_Indirection',
  'A_Indices', 'RowExpr', 'GroupingSet', 'GroupingFunc', 'NamedArgExpr', 'ResTarget', 'SortBy', 'WindowDef', 'List',
  'String', 'Integer', 'Float', 'Boolean', 'BitString', 'A_Star', 'Alias', 'TypeName', 'SetToDefault',
]);

const SVF_NAMES: Record<string, string> = {
  SVFOP_CURRENT_DATE: 'current_date',
  SVFOP_CURRENT_TIME: 'current_time',
  SVFOP_CURRENT_TIME_N: 'current_time',
  SVFOP_CURRENT_TIMESTAMP: 'current_timestamp',
  SVFOP_CURRENT_TIMESTAMP_N: 'current_timestamp',
  SVFOP_LOCALTIME: 'localtime',
  SVFOP_LOCALTIME_N: 'localtime',
  SVFOP_LOCALTIMESTAMP: 'localtimestamp',
  SVFOP_LOCALTIMESTAMP_N: 'localtimestamp',
  SVFOP_CURRENT_ROLE: 'current_role',
  SVFOP_CURRENT_USER: 'current_user',
  SVFOP_USER: 'user',
  SVFOP_SESSION_USER: 'session_user',
  SVFOP_CURRENT_CATALOG: 'current_catalog',
  SVFOP_CURRENT_SCHEMA: 'current_schema',
};

/** Statement kinds that change nothing a DuckDB read could see but are not queries. */
const UTILITY_KINDS: ReadonlySet<string> = new Set([
  'TransactionStmt', 'VariableSetStmt', 'VariableShowStmt', 'ExplainStmt', 'PrepareStmt', 'ExecuteStmt',
  'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'DiscardStmt', 'CheckPointStmt', 'LoadStmt', 'DeclareCursorStmt',
  'FetchStmt', 'ClosePortalStmt', 'LockStmt', 'ConstraintsSetStmt', 'VacuumStmt', 'ReindexStmt', 'ClusterStmt',
]);

const PRIVILEGE_KINDS: ReadonlySet<string> = new Set([
  'GrantStmt', 'GrantRoleStmt', 'CreatePolicyStmt', 'AlterPolicyStmt', 'AlterDefaultPrivilegesStmt', 'AlterOwnerStmt',
  'ReassignOwnedStmt', 'DropOwnedStmt', 'AlterRoleStmt', 'CreateRoleStmt', 'DropRoleStmt', 'AlterRoleSetStmt',
]);

/** Reason label for a statement kind that is never a query DuckDB could answer. */
export function isUtilityKind(kind: string): boolean {
  return UTILITY_KINDS.has(kind);
}

/** `{ TypeName: {...} }` → ['TypeName', {...}]; anything else → null. */
function unwrap(n: unknown): [string, Obj] | null {
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return null;
  const keys = Object.keys(n);
  if (keys.length !== 1) return null;
  const k = keys[0]!;
  const c = k.charCodeAt(0);
  if (c < 65 || c > 90) return null; // node wrappers are CamelCase
  const v = (n as Obj)[k];
  return [k, v !== null && typeof v === 'object' ? (v as Obj) : {}];
}

function arr(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

function str(n: unknown): string | null {
  const u = unwrap(n);
  return u && u[0] === 'String' ? String(u[1]['sval'] ?? '') : null;
}

/** ['pg_catalog', 'count'] → 'count'; ['s', 'f'] → 's.f' */
function qualifiedName(list: unknown): string {
  const parts = arr(list).map((p) => str(p) ?? '?');
  if (parts.length > 1 && parts[0] === 'pg_catalog') parts.shift();
  return parts.join('.').toLowerCase();
}

function constText(n: unknown): string | null {
  const u = unwrap(n);
  if (!u) return null;
  if (u[0] === 'A_Const') {
    const v = u[1];
    if (v['isnull']) return null;
    const sval = v['sval'] as Obj | undefined;
    if (sval) return String(sval['sval'] ?? '');
    const ival = v['ival'] as Obj | undefined;
    if (ival) return String(ival['ival'] ?? 0);
    const fval = v['fval'] as Obj | undefined;
    if (fval) return String(fval['fval'] ?? '');
    const bval = v['boolval'] as Obj | undefined;
    if (bval) return bval['boolval'] ? 'on' : 'off';
    return '';
  }
  if (u[0] === 'TypeCast') return constText(u[1]['arg']);
  if (u[0] === 'String') return String(u[1]['sval'] ?? '');
  return null;
}

/** A constant or a parameter, possibly cast: the other side of a point-lookup equality. */
function isConstOrParam(n: unknown): boolean {
  const u = unwrap(n);
  if (!u) return false;
  if (u[0] === 'A_Const' || u[0] === 'ParamRef') return true;
  if (u[0] === 'TypeCast') return isConstOrParam(u[1]['arg']);
  return false;
}

type CteEnv = ReadonlyMap<string, string[] | null>;

class Walker {
  readonly f: StatementFacts;
  private readonly functions = new Set<string>();
  private readonly operators = new Set<string>();
  private readonly types = new Set<string>();

  constructor(kind: string) {
    this.f = {
      readOnly: true, kind, tables: [], functions: [], operators: [], types: [], hasAggregate: false, hasWindow: false,
      hasGroupBy: false, hasDistinct: false, hasOrderBy: false, hasSubquery: false, hasSetOperation: false, limit: null,
      locking: false, timeDependent: false, catalog: null, unsupported: null, writeDetail: null, scopes: [],
      columnUses: [], equalities: [], effects: [], duckgate: null,
    };
  }

  finish(): StatementFacts {
    this.f.functions = [...this.functions];
    this.f.operators = [...this.operators];
    this.f.types = [...this.types];
    return this.f;
  }

  private unsupported(what: string): void {
    this.f.unsupported ??= what;
  }

  private write(why: string): void {
    this.f.readOnly = false;
    this.f.writeDetail ??= why;
  }

  private addFunction(name: string): void {
    this.functions.add(name);
    if (TIME_FUNCTIONS.has(name)) this.f.timeDependent = true;
    if (isCatalogFunction(name)) this.f.catalog ??= `catalog function ${name}()`;
  }

  /** Walks a SELECT (or set operation) and returns its scope id. `top`: the statement's outermost query. */
  walkSelect(sel: Obj, parent: number | null, env: CteEnv, top: boolean): number {
    const scopeId = this.f.scopes.length;
    const scope: Scope = { parent, sources: [], outputNames: [] };
    this.f.scopes.push(scope);
    env = this.walkWith(sel['withClause'], parent, env);

    if (sel['intoClause']) {
      this.write('SELECT INTO');
      const rel = (sel['intoClause'] as Obj)['rel'] as Obj | undefined;
      if (rel?.['relpersistence'] === 't') this.f.effects.push({ kind: 'create_temp', name: String(rel['relname']) });
    }
    if (arr(sel['lockingClause']).length > 0) this.f.locking = true;

    if (sel['op'] && sel['op'] !== 'SETOP_NONE') {
      this.f.hasSetOperation = true;
      const l = this.walkSelect(sel['larg'] as Obj, parent, env, false);
      this.walkSelect(sel['rarg'] as Obj, parent, env, false);
      scope.outputNames = this.f.scopes[l]!.outputNames;
    } else {
      for (const v of arr(sel['valuesLists'])) this.walkExpr(v, scopeId, env, false);
      for (const item of arr(sel['fromClause'])) scope.sources.push(...this.walkFrom(item, scopeId, env));
      // An output column is ordered by ORDER BY 1 or ORDER BY <its name>, grouped by GROUP BY 1 or
      // <its name>, and compared by DISTINCT: its columns' uses then are not merely output (an enum
      // ordered by position, a jsonb made DISTINCT).
      const targets = arr(sel['targetList']).map((t) => unwrap(t)?.[1] as Obj | undefined);
      const names = targets.map((t) => (t ? outputName(t) : null));
      const byOutput = (items: unknown[]): Set<number> => {
        const hit = new Set<number>();
        for (const i of items) {
          const u = unwrap(i);
          const node = u?.[0] === 'SortBy' ? unwrap((u[1] as Obj)['node']) : u;
          if (node?.[0] === 'A_Const') {
            const pos = Number(((node[1] as Obj)['ival'] as Obj | undefined)?.['ival'] ?? 0);
            hit.add(pos - 1);
          } else if (node?.[0] === 'ColumnRef' && arr((node[1] as Obj)['fields']).length === 1) {
            const name = str(arr((node[1] as Obj)['fields'])[0]);
            names.forEach((n, k) => n !== null && n === name && hit.add(k));
          }
        }
        return hit;
      };
      const ordered = byOutput(arr(sel['sortClause']));
      const grouped = byOutput(arr(sel['groupClause']));
      for (const [k, t] of targets.entries()) {
        if (!t) continue;
        const level = !top ? 0 : ordered.has(k) ? USE_ORDERED : sel['distinctClause'] || grouped.has(k) ? USE_GROUPED : USE_OUTPUT;
        this.walkExpr(t['val'], scopeId, env, false, level);
        scope.outputNames.push(outputName(t));
      }
      this.walkExpr(sel['whereClause'], scopeId, env, false);
      if (top) this.collectEqualities(sel['whereClause']);
      const group = arr(sel['groupClause']);
      if (group.length > 0) this.f.hasGroupBy = true;
      for (const g of group) this.walkExpr(g, scopeId, env, true, top ? USE_GROUPED : 0);
      this.walkExpr(sel['havingClause'], scopeId, env, false);
      this.walkExpr(sel['windowClause'], scopeId, env, false);
      if (sel['distinctClause']) {
        this.f.hasDistinct = true;
        this.walkExpr(sel['distinctClause'], scopeId, env, false, top ? USE_GROUPED : 0);
      }
    }
    const sort = arr(sel['sortClause']);
    if (sort.length > 0 && top) this.f.hasOrderBy = true;
    for (const s of sort) {
      const sb = unwrap(s);
      if (sb) this.walkExpr(sb[1]['node'], scopeId, env, true, top ? USE_ORDERED : 0);
    }
    this.walkExpr(sel['limitOffset'], scopeId, env, false);
    this.walkExpr(sel['limitCount'], scopeId, env, false);
    if (top && sel['limitCount']) {
      const lc = unwrap(sel['limitCount']);
      if (lc?.[0] === 'ParamRef') this.f.limit = 'param';
      else if (lc?.[0] === 'A_Const' && lc[1]['ival'] !== undefined) this.f.limit = Number((lc[1]['ival'] as Obj)['ival'] ?? 0);
      else if (lc?.[0] === 'A_Const' && lc[1]['isnull']) this.f.limit = null; // LIMIT ALL / NULL
      else this.f.limit = 'param'; // an expression: treat as unknown
    }
    return scopeId;
  }

  private walkWith(withClause: unknown, parent: number | null, env: CteEnv): CteEnv {
    if (!withClause) return env;
    const w = withClause as Obj;
    const ctes = arr(w['ctes']).map((c) => unwrap(c)?.[1]).filter((c): c is Obj => !!c);
    const inner = new Map(env);
    const all = new Map(env);
    for (const c of ctes) all.set(String(c['ctename']), cteColumns(c));
    for (const c of ctes) {
      const q = unwrap(c['ctequery']);
      const seen = w['recursive'] ? all : inner;
      if (q?.[0] === 'SelectStmt') this.walkSelect(q[1], parent, seen, false);
      else if (q) this.walkModifying(q[0], q[1], parent, seen);
      inner.set(String(c['ctename']), cteColumns(c));
    }
    return all;
  }

  /** A data-modifying statement inside WITH: note its tables, it makes the statement a write. */
  private walkModifying(kind: string, node: Obj, parent: number | null, env: CteEnv): void {
    this.write(`data-modifying ${kind.replace(/Stmt$/, '').toUpperCase()} in WITH`);
    const rel = node['relation'] as Obj | undefined;
    if (rel) this.addTable(rel);
    const s = unwrap(node['selectStmt']);
    if (s?.[0] === 'SelectStmt') this.walkSelect(s[1], parent, env, false);
  }

  private addTable(rv: Obj): number {
    this.f.tables.push({
      schema: (rv['schemaname'] as string | undefined) ?? null,
      name: String(rv['relname']),
      catalog: (rv['catalogname'] as string | undefined) ?? null,
    });
    return this.f.tables.length - 1;
  }

  private walkFrom(item: unknown, scope: number, env: CteEnv): Source[] {
    const u = unwrap(item);
    if (!u) return [];
    const [type, n] = u;
    const alias = n['alias'] as Obj | undefined;
    const aliasName = alias ? String(alias['aliasname']) : null;
    const aliasCols = alias && alias['colnames'] ? arr(alias['colnames']).map((c) => str(c) ?? '?') : null;
    switch (type) {
      case 'RangeVar': {
        const name = String(n['relname']);
        if (!n['schemaname'] && env.has(name)) {
          return [{ alias: aliasName ?? name, qualSchema: null, tables: [], derived: true, columns: aliasCols ?? env.get(name) ?? null }];
        }
        // FROM t AS x(a, b) renames columns by position; the mirror's column order is not the table's
        if (aliasCols) this.unsupported('column aliases on a table');
        const i = this.addTable(n);
        return [{ alias: aliasName ?? name, qualSchema: aliasName ? null : ((n['schemaname'] as string) ?? null), tables: [i], derived: false, columns: null }];
      }
      case 'RangeSubselect': {
        const sub = unwrap(n['subquery']);
        if (sub?.[0] !== 'SelectStmt') {
          this.unsupported(`subquery ${sub?.[0] ?? '?'}`);
          return [];
        }
        const child = this.walkSelect(sub[1], scope, env, false);
        this.f.hasSubquery = true;
        return [{ alias: aliasName, qualSchema: null, tables: [], derived: true, columns: aliasCols ?? this.f.scopes[child]!.outputNames }];
      }
      case 'JoinExpr': {
        const inner = [...this.walkFrom(n['larg'], scope, env), ...this.walkFrom(n['rarg'], scope, env)];
        this.walkExpr(n['quals'], scope, env, false);
        for (const c of arr(n['usingClause'])) {
          const name = str(c);
          if (name) this.f.columnUses.push({ scope, qualifier: [], column: name, aliasOk: false });
        }
        if (n['isNatural']) {
          // the joined columns are implied: count every column of both sides as touched
          for (const s of inner) this.f.columnUses.push({ scope, qualifier: [s.alias ?? '?'], column: '*', aliasOk: false });
        }
        const joinAlias = (n['join_using_alias'] as Obj | undefined) ?? alias;
        if (!joinAlias) return inner;
        return [{
          alias: String(joinAlias['aliasname']),
          qualSchema: null,
          tables: inner.flatMap((s) => s.tables),
          derived: inner.some((s) => s.derived),
          columns: null,
        }];
      }
      case 'RangeFunction': {
        if (n['is_rowsfrom'] || n['ordinality']) this.unsupported(n['ordinality'] ? 'WITH ORDINALITY' : 'ROWS FROM');
        let fname: string | null = null;
        for (const f of arr(n['functions'])) {
          const items = arr(unwrap(f)?.[1]['items']);
          const call = unwrap(items[0]);
          if (call?.[0] === 'FuncCall') fname ??= qualifiedName(call[1]['funcname']);
          this.walkExpr(items[0], scope, env, false);
        }
        if (n['coldeflist']) this.unsupported('column definition list');
        return [{ alias: aliasName ?? fname, qualSchema: null, tables: [], derived: true, columns: aliasCols ?? (aliasName ?? fname ? [aliasName ?? fname!] : null) }];
      }
      case 'RangeTableSample':
        this.unsupported('TABLESAMPLE');
        return this.walkFrom(n['relation'], scope, env);
      default:
        this.unsupported(`FROM ${type}`);
        return [];
    }
  }

  walkExpr(node: unknown, scope: number, env: CteEnv, aliasOk: boolean, level: UseLevel = 0, labelEquality = false): void {
    if (node === null || node === undefined || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const x of node) this.walkExpr(x, scope, env, aliasOk, level);
      return;
    }
    const u = unwrap(node);
    if (!u) {
      // an unwrapped struct (e.g. a FuncCall's `over` WindowDef): descend into its fields
      for (const v of Object.values(node)) this.walkExpr(v, scope, env, false);
      return;
    }
    const [type, n] = u;
    switch (type) {
      case 'ColumnRef': {
        const fields = arr(n['fields']);
        const last = unwrap(fields[fields.length - 1]);
        const column = last?.[0] === 'A_Star' ? '*' : (str(fields[fields.length - 1]) ?? '?');
        const qualifier = fields.slice(0, -1).map((x) => str(x) ?? '?');
        if (qualifier.length > 2) this.unsupported('three-part column reference');
        this.f.columnUses.push({ scope, qualifier, column, aliasOk: aliasOk && qualifier.length === 0, level, labelEquality });
        return;
      }
      case 'ResTarget':
        // a DISTINCT ON / GROUP BY item may arrive wrapped
        this.walkExpr(n['val'], scope, env, aliasOk, level);
        return;
      case 'NullTest':
        // IS [NOT] NULL of a column reads no value, anywhere in the statement (an expression under it
        // resets these flags in its own walk)
        this.walkExpr(n['arg'], scope, env, false, USE_OUTPUT);
        return;
      case 'FuncCall': {
        const name = qualifiedName(n['funcname']);
        this.addFunction(name);
        if (n['over']) this.f.hasWindow = true;
        else if (AGGREGATES.has(name) || n['agg_star'] || n['agg_distinct'] || n['agg_within_group'] || n['agg_filter']) this.f.hasAggregate = true;
        if (n['func_variadic']) this.unsupported('VARIADIC call');
        // count/min/max neither compare with nor transform their argument's value; count does not order
        // it either (count DISTINCT groups it), min/max do
        const argLevel: UseLevel = n['over'] ? 0 : name === 'count' ? (Math.min(level, n['agg_distinct'] ? USE_GROUPED : USE_OUTPUT) as UseLevel) : name === 'min' || name === 'max' ? (Math.min(level, USE_ORDERED) as UseLevel) : 0;
        this.walkExpr(n['args'], scope, env, false, argLevel);
        this.walkExpr(n['agg_order'], scope, env, false);
        this.walkExpr(n['agg_filter'], scope, env, false);
        this.walkExpr(n['over'], scope, env, false);
        return;
      }
      case 'SQLValueFunction':
        this.addFunction(SVF_NAMES[String(n['op'])] ?? String(n['op']).toLowerCase());
        return;
      case 'CoalesceExpr':
        this.addFunction('coalesce');
        this.walkExpr(n['args'], scope, env, false);
        return;
      case 'MinMaxExpr':
        this.addFunction(n['op'] === 'IS_LEAST' ? 'least' : 'greatest');
        this.walkExpr(n['args'], scope, env, false);
        return;
      case 'TypeCast': {
        const t = qualifiedName((n['typeName'] as Obj | undefined)?.['names']);
        this.types.add(t);
        if (isCatalogType(t)) this.f.catalog ??= `cast to ${t}`;
        this.walkExpr(n['arg'], scope, env, false);
        return;
      }
      case 'A_Expr': {
        const names = arr(n['name']).map((x) => str(x) ?? '?');
        if (names.length > 1 && names[0] !== 'pg_catalog') this.unsupported(`operator ${names.join('.')}`);
        this.operators.add(names[names.length - 1] ?? '?');
        // a column compared for (in)equality with string literals (see ColumnUse.labelEquality)
        const op = names[names.length - 1];
        const isColumn = (x: unknown) => unwrap(x)?.[0] === 'ColumnRef';
        const isLabel = (x: unknown): boolean => {
          const u = unwrap(x);
          if (u?.[0] === 'A_Const') return (u[1] as Obj)['sval'] !== undefined;
          if (u?.[0] === 'TypeCast') return isLabel((u[1] as Obj)['arg']);
          if (u?.[0] === 'List') return arr((u[1] as Obj)['items']).every(isLabel);
          return false;
        };
        const kind = n['kind'];
        const equality = (kind === 'AEXPR_OP' && (op === '=' || op === '<>' || op === '!=')) || kind === 'AEXPR_IN';
        const labelSide = (col: unknown, other: unknown) => equality && isColumn(col) && isLabel(other);
        this.walkExpr(n['lexpr'], scope, env, false, 0, labelSide(n['lexpr'], n['rexpr']));
        this.walkExpr(n['rexpr'], scope, env, false, 0, kind === 'AEXPR_OP' && labelSide(n['rexpr'], n['lexpr']));
        return;
      }
      case 'SubLink': {
        this.f.hasSubquery = true;
        this.walkExpr(n['testexpr'], scope, env, false);
        const sub = unwrap(n['subselect']);
        if (sub?.[0] === 'SelectStmt') this.walkSelect(sub[1], scope, env, false);
        else this.unsupported('subquery');
        return;
      }
      case 'SelectStmt':
        this.walkSelect(n, scope, env, false);
        return;
      default:
        if (!SAFE_NODES.has(type)) {
          this.unsupported(type);
          return;
        }
        for (const v of Object.values(n)) this.walkExpr(v, scope, env, false);
    }
  }

  /** Top-level WHERE conjuncts that pin a column to a constant or parameter (point-lookup shape). */
  private collectEqualities(where: unknown): void {
    const u = unwrap(where);
    if (!u) return;
    if (u[0] === 'BoolExpr' && u[1]['boolop'] === 'AND_EXPR') {
      for (const a of arr(u[1]['args'])) this.collectEqualities(a);
      return;
    }
    if (u[0] !== 'A_Expr') return;
    const e = u[1];
    const op = arr(e['name']).map((x) => str(x)).pop();
    const kind = e['kind'];
    const colOf = (x: unknown) => {
      const c = unwrap(x);
      if (c?.[0] !== 'ColumnRef') return null;
      const fields = arr(c[1]['fields']).map((y) => str(y));
      if (fields.some((y) => y === null)) return null;
      return { qualifier: fields.slice(0, -1) as string[], column: fields[fields.length - 1] as string };
    };
    if (op !== '=') return;
    let col = null;
    if (kind === 'AEXPR_OP') {
      if (isConstOrParam(e['rexpr'])) col = colOf(e['lexpr']);
      else if (isConstOrParam(e['lexpr'])) col = colOf(e['rexpr']);
    } else if (kind === 'AEXPR_IN') {
      if (arr(e['rexpr']).every(isConstOrParam)) col = colOf(e['lexpr']);
    } else if (kind === 'AEXPR_OP_ANY') {
      if (isConstOrParam(e['rexpr'])) col = colOf(e['lexpr']);
    }
    if (col) this.f.equalities.push(col);
  }

  /** Statements other than SELECT: their effects on the session, and whether they write. */
  walkOther(kind: string, n: Obj): void {
    const persistence = (rv: unknown) => (rv as Obj | undefined)?.['relpersistence'];
    switch (kind) {
      case 'VariableSetStmt':
        this.walkSet(n);
        return;
      case 'VariableShowStmt': {
        const name = String(n['name']).toLowerCase();
        if (name.startsWith('duckgate.')) this.f.duckgate = { kind: 'show', name };
        return;
      }
      case 'TransactionStmt': {
        if (n['kind'] === 'TRANS_STMT_BEGIN' || n['kind'] === 'TRANS_STMT_START') {
          this.f.effects.push({ kind: 'begin', readOnly: readOnlyOption(n['options']) });
        }
        return;
      }
      case 'DiscardStmt': {
        const t = String(n['target']);
        const target = t === 'DISCARD_PLANS' ? 'plans' : t === 'DISCARD_SEQUENCES' ? 'sequences' : t === 'DISCARD_TEMP' ? 'temp' : 'all';
        this.f.effects.push({ kind: 'discard', target });
        return;
      }
      case 'CopyStmt':
        if (n['is_from']) this.write('COPY FROM');
        return;
      case 'ExplainStmt': {
        const analyze = arr(n['options']).some((o) => unwrap(o)?.[1]['defname'] === 'analyze');
        const inner = unwrap(n['query']);
        if (analyze && inner && inner[0] !== 'SelectStmt') this.write('EXPLAIN ANALYZE of a write');
        return;
      }
      default:
        break;
    }
    if (UTILITY_KINDS.has(kind)) return;
    this.write(kind.replace(/Stmt$/, ''));
    if (kind === 'CreateStmt' && persistence(n['relation']) === 't') this.f.effects.push({ kind: 'create_temp', name: String((n['relation'] as Obj)['relname']) });
    if (kind === 'CreateTableAsStmt') {
      const rel = (n['into'] as Obj | undefined)?.['rel'];
      if (persistence(rel) === 't') this.f.effects.push({ kind: 'create_temp', name: String((rel as Obj)['relname']) });
    }
    if (kind === 'ViewStmt' && persistence(n['view']) === 't') this.f.effects.push({ kind: 'create_temp', name: String((n['view'] as Obj)['relname']) });
    if (kind === 'CreateSeqStmt' && persistence(n['sequence']) === 't') this.f.effects.push({ kind: 'create_temp', name: String((n['sequence'] as Obj)['relname']) });
    if (kind === 'DropStmt') {
      const names = arr(n['objects']).map((o) => {
        const parts = arr(unwrap(o)?.[1]['items']).map((x) => str(x));
        return parts[parts.length - 1] ?? null;
      });
      this.f.effects.push({ kind: 'drop', names: names.filter((x): x is string => !!x) });
    }
    const isDdl = /^(Create|Alter|Drop|Rename|Comment|Grant|Reassign|Refresh|Sec|Import|Truncate)/.test(kind) || PRIVILEGE_KINDS.has(kind);
    if (isDdl) {
      const rlsChange =
        kind === 'AlterTableStmt' &&
        arr(n['cmds']).some((c) => /RowSecurity|ChangeOwner/.test(String(unwrap(c)?.[1]['subtype'] ?? '')));
      const policyDrop = kind === 'DropStmt' && n['removeType'] === 'OBJECT_POLICY';
      this.f.effects.push({ kind: 'ddl', privileges: PRIVILEGE_KINDS.has(kind) || rlsChange || policyDrop });
    }
  }

  private walkSet(n: Obj): void {
    const setKind = String(n['kind']);
    const name = String(n['name'] ?? '').toLowerCase();
    const local = !!n['is_local'];
    if (setKind === 'VAR_RESET_ALL') {
      this.f.effects.push({ kind: 'reset_all' });
      return;
    }
    if (setKind === 'VAR_SET_MULTI') {
      // SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …
      this.f.effects.push({ kind: 'set_transaction', readOnly: readOnlyOption(n['args']), sessionDefault: name === 'session characteristics' });
      return;
    }
    const reset = setKind === 'VAR_RESET' || setKind === 'VAR_SET_DEFAULT';
    const args = reset ? [] : arr(n['args']).map((a) => constText(a) ?? '');
    if (name.startsWith('duckgate.')) {
      let bad: string | null = null;
      if (setKind === 'VAR_SET_CURRENT') bad = 'SET … FROM CURRENT is not supported for duckgate settings';
      else if (!reset && args.length !== 1) bad = `SET ${name} takes only one argument`;
      this.f.duckgate = { kind: 'set', name, value: reset ? null : (args[0] ?? null), local, bad };
      return;
    }
    this.f.effects.push({ kind: 'set', name, args, reset, local });
  }
}

function cteColumns(c: Obj): string[] | null {
  const cols = c['aliascolnames'];
  return cols ? arr(cols).map((x) => str(x) ?? '?') : null;
}

function readOnlyOption(options: unknown): boolean | null {
  for (const o of arr(options)) {
    const d = unwrap(o)?.[1];
    if (d?.['defname'] === 'transaction_read_only') return constText(d['arg']) === '1';
  }
  return null;
}

/** The name Postgres gives an output column (enough for ORDER BY by name). */
function outputName(rt: Obj): string {
  if (rt['name']) return String(rt['name']);
  const v = unwrap(rt['val']);
  if (v?.[0] === 'ColumnRef') {
    const fields = arr(v[1]['fields']);
    return str(fields[fields.length - 1]) ?? '?column?';
  }
  if (v?.[0] === 'FuncCall') return qualifiedName(v[1]['funcname']).split('.').pop() ?? '?column?';
  return '?column?';
}

/** Facts of one parsed statement node (`{ SelectStmt: … }` etc). */
export function factsOfStatement(stmt: unknown): StatementFacts {
  const u = unwrap(stmt);
  if (!u) {
    const w = new Walker('Unknown');
    w.f.readOnly = false;
    w.f.writeDetail = 'unknown statement';
    return w.finish();
  }
  const [kind, n] = u;
  const w = new Walker(kind);
  if (kind === 'SelectStmt') w.walkSelect(n, null, new Map(), true);
  else w.walkOther(kind, n);
  return w.finish();
}

