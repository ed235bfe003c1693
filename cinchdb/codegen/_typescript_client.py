"""``client.ts``: a typed client for ``cinch serve`` over the interfaces of ``models.ts``.

Generated from three sources, none copied by hand: the schema (a typed accessor per table and
view), the API table :data:`cinchdb.api.ENDPOINTS` (one method of ``Api`` per endpoint: its
method, path template, and where each argument travels), and the error classes under
:class:`cinchdb.errors.CinchError` (one TypeScript class per class, same code, same parent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from cinchdb import api
from cinchdb.codegen._model import AUTOMATIC, CodeModel, Entity, Field
from cinchdb.codegen._typescript_runtime import RUNTIME
from cinchdb.errors import CinchError, error_code
from journal.names import fold_name

TYPES = {
    "TEXT": "string",
    "INTEGER": "number",
    "REAL": "number",
    "BLOB": "Uint8Array",
    "NUMERIC": "number",
    "BOOLEAN": "boolean",
    "": "string | number | Uint8Array",
}
_JSON_TYPES: dict[str, str] = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "object": "{ readonly [key: string]: JsonValue }",
    "array": "readonly JsonValue[]",
    "any": "JsonValue",
}


def method_name(name: str) -> str:
    """The ``Api`` method of an endpoint: ``kv.get`` -> ``kvGet``, ``list_rows`` -> ``listRows``."""
    head, *rest = re.split(r"[._]", name)
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _doc(text: str, indent: str = "") -> str:
    # A docstring's first paragraph, safe inside /** */.
    first = " ".join(text.strip().split("\n\n")[0].split()).replace("*/", "*\\/")
    return f"{indent}/** {first} */"


def _object(members: Iterable[str]) -> str:
    listed = ", ".join(members)
    return f"{{ {listed} }}" if listed else "{}"


def _error_parent(cls: type[CinchError]) -> type[CinchError] | None:
    # TypeScript classes have one parent: the first base that is a CinchError.
    return next((b for b in cls.__bases__ if issubclass(b, CinchError)), None)


def _error_classes() -> list[type[CinchError]]:
    """Every CinchError subclass, parents first, siblings by name (deterministic)."""
    children: dict[type[CinchError], list[type[CinchError]]] = {}
    seen: set[type[CinchError]] = set()
    pending: list[type[CinchError]] = [CinchError]
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        parent = _error_parent(cls)
        if parent is not None:
            children.setdefault(parent, []).append(cls)
        pending.extend(cls.__subclasses__())
    ordered: list[type[CinchError]] = []
    stack = [CinchError]
    while stack:
        cls = stack.pop()
        ordered.append(cls)
        stack.extend(sorted(children.get(cls, []), key=lambda c: c.__name__, reverse=True))
    return ordered


def _render_errors() -> list[str]:
    lines: list[str] = []
    classes = _error_classes()
    for cls in classes[1:]:  # CinchError itself is in the runtime
        parent = _error_parent(cls)
        assert parent is not None
        lines += [
            _doc(cls.__doc__ or cls.__name__),
            f"export class {cls.__name__} extends {parent.__name__} {{",
            f"  static override readonly code: string = {json.dumps(error_code(cls))};",
            "}",
            "",
        ]
    lines.append("/** Error code -> class, for rebuilding the server's errors. */")
    lines.append("export const ERRORS: { readonly [code: string]: typeof CinchError } = {")
    lines += [f"  {json.dumps(error_code(cls))}: {cls.__name__}," for cls in classes]
    lines += ["};", ""]
    return lines


def _render_api() -> list[str]:
    lines = [
        "/**",
        " * Every endpoint of the API (cinchdb/api.py), one method each: arguments by their wire",
        " * names, results as the JSON the server sends. The typed accessors are built on it.",
        " */",
        "export class Api {",
        "  constructor(readonly transport: Transport) {}",
        "",
    ]
    for endpoint in api.ENDPOINTS:
        members = []
        for param in endpoint.params:
            optional = "" if param.required else "?"
            type_ = _JSON_TYPES[param.type]
            if param.source == "path":
                type_ = "string"
            members.append(f"readonly {param.name}{optional}: {type_}")
        required = any(p.required for p in endpoint.params)
        args = f"args: {{ {'; '.join(members)} }}" if members else ""
        if members and not required:
            args += " = {}"
        options = "options: ChangeOptions = {}" if endpoint.cas else ""
        signature = ", ".join(a for a in (args, options) if a)
        path_params = _object(f"{p.name}: args.{p.name}" for p in endpoint.params_from("path"))
        query = [f"{p.name}: args.{p.name}" for p in endpoint.params_from("query")]
        if endpoint.cas:
            query.append('dry_run: options.dryRun ? "true" : undefined')
        body_params = list(endpoint.params_from("body"))
        body = (
            _object(f"{p.name}: args.{p.name}" for p in body_params)
            if body_params or endpoint.method in ("POST", "PUT", "PATCH")
            else "null"
        )
        headers = (
            ', options.ifMatch === undefined ? {} : { "If-Match": options.ifMatch }'
            if endpoint.cas
            else ""
        )
        lines += [
            _doc(f"{endpoint.summary} ({endpoint.method} {endpoint.path}; scope {endpoint.scope})",
                 "  "),
            f"  {method_name(endpoint.name)}({signature}): Promise<JsonValue> {{",
            f"    const path = this.transport.path({json.dumps(endpoint.path)}, {path_params});",
            f"    return this.transport.call({json.dumps(endpoint.method)}, path,"
            f" {_object(query)}, {body}{headers});",
            "  }",
            "",
        ]  # fmt: skip
    lines[-1:] = ["}", ""]
    return lines


def _key_type(entity: Entity) -> str:
    by_name = {fold_name(f.name): f for f in entity.fields}

    def one(column: str) -> str:
        field: Field | None = by_name.get(fold_name(column))
        return "number" if field is None else TYPES[field.type]

    if len(entity.key) == 1:
        return one(entity.key[0])
    return "readonly [" + ", ".join(one(c) for c in entity.key) + "]"


def _key_name(field: Field) -> str:
    return field.name if field.identifier == field.name else json.dumps(field.name)


def render_update_interface(entity: Entity) -> list[str]:
    """``…Update``: every column an update may change (not the key, not the automatic ones),
    all optional; only the fields given are written."""
    key = {fold_name(c) for c in entity.key}
    lines = [
        f"/** Changes to a row of {json.dumps(entity.name)}: only the fields given are written. */",
        f"export interface {entity.class_name}Update {{",
    ]
    for f in entity.fields:
        if fold_name(f.name) in key or f.name in AUTOMATIC:
            continue
        null = " | null" if f.nullable else ""
        lines.append(f"  {_key_name(f)}?: {TYPES[f.type]}{null};")
    return [*lines, "}", ""]


_ACCESSORS = """\
/** A table's rows, typed: R a row, I an insert, U an update, K the key naming a row. */
export class Table<R, I, U, K> {
  constructor(
    private readonly api: Api,
    readonly name: string,
  ) {}

  /** Insert one row; the stored row back (automatic columns filled in). */
  async insert(row: I): Promise<R> {
    const sent = toWire(row as unknown as KvValue);
    const result = await this.api.insert({ table: this.name, rows: sent });
    return (Array.isArray(result) ? rowFromWire(result[0] ?? null) : rowFromWire(result)) as R;
  }

  /** Insert several rows in one transaction; the stored rows back, in order. */
  async insertMany(rows: readonly I[]): Promise<R[]> {
    const sent = rows.map((row: I) => toWire(row as unknown as KvValue));
    const result = await this.api.insert({ table: this.name, rows: sent });
    if (!Array.isArray(result)) throw new CinchError("Expected rows from the server");
    return result.map((row: JsonValue) => rowFromWire(row) as R);
  }

  /** The row named by `key`, or null when there is none. */
  async get(key: K): Promise<R | null> {
    try {
      return rowFromWire(await this.api.get({ table: this.name, key: keyPath(key) })) as R;
    } catch (error) {
      if (error instanceof CinchError && error.code === "record_not_found") return null;
      throw error;
    }
  }

  /** One page of rows in key order (`after`: the previous page's `next`). */
  async list(page: { readonly after?: string; readonly limit?: number } = {}): Promise<Page<R>> {
    const args: { table: string; after?: string; limit?: number } = { table: this.name };
    if (page.after !== undefined) args.after = page.after;
    if (page.limit !== undefined) args.limit = page.limit;
    const result = await this.api.listRows(args);
    if (typeof result !== "object" || result === null || Array.isArray(result)) {
      throw new CinchError("Expected a page of rows from the server");
    }
    const page_ = result as { readonly rows?: JsonValue; readonly next?: JsonValue };
    const rows = Array.isArray(page_.rows) ? page_.rows : [];
    const next = page_.next ?? null;
    return {
      rows: rows.map((row: JsonValue) => rowFromWire(row) as R),
      next: next === null || typeof next === "string" ? next : JSON.stringify(next),
    };
  }

  /** Every row in key order, a page at a time. */
  async *all(limit: number = 500): AsyncGenerator<R> {
    let after: string | undefined;
    for (;;) {
      const page: Page<R> = await this.list(after === undefined ? { limit } : { after, limit });
      yield* page.rows;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /** Change the row named by `key`; the whole row after. */
  async update(key: K, data: U): Promise<R> {
    const sent = toWire(data as unknown as KvValue) as { readonly [key: string]: JsonValue };
    const args = { table: this.name, key: keyPath(key), data: sent };
    return rowFromWire(await this.api.update(args)) as R;
  }

  /** Delete the row named by `key`; whether it existed. */
  async delete(key: K): Promise<boolean> {
    const count = await this.api.delete({ table: this.name, key: keyPath(key) });
    return typeof count === "number" && count > 0;
  }
}

/** A view's rows, typed (read-only). */
export class View<R> {
  constructor(
    private readonly api: Api,
    readonly name: string,
  ) {}

  /** Every row of the view. */
  async list(): Promise<R[]> {
    const sql = `SELECT * FROM "${this.name.replaceAll('"', '""')}"`;
    const result = await this.api.query({ sql });
    if (!Array.isArray(result)) throw new CinchError("Expected rows from the server");
    return result.map((row: JsonValue) => rowFromWire(row) as R);
  }
}

/** A key as a path segment: a one-column key as its text, a composite key as a JSON array. */
function keyPath(key: unknown): string {
  if (Array.isArray(key)) return JSON.stringify(key);
  if (typeof key === "string") return key;
  return JSON.stringify(key);
}

/** The tenant's key-value store. */
export class Kv {
  constructor(private readonly api: Api) {}

  async set(key: string, value: KvValue, ttl?: number): Promise<void> {
    const args: { key: string; value: JsonValue; ttl?: number } = { key, value: toWire(value) };
    if (ttl !== undefined) args.ttl = ttl;
    await this.api.kvSet(args);
  }

  /** The value, or null when the key is missing or expired. */
  async get(key: string): Promise<KvValue> {
    return fromWire(await this.api.kvGet({ key }));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.api.kvExists({ key })) === true;
  }

  /** Delete keys; how many existed. */
  async delete(...keys: string[]): Promise<number> {
    return Number(await this.api.kvDelete({ keys }));
  }

  /** Add `amount` to a number; the new value. */
  async increment(key: string, amount?: number): Promise<number> {
    return Number(await this.api.kvIncrement(amount === undefined ? { key } : { key, amount }));
  }

  /** Live keys matching a glob pattern. */
  async keys(pattern?: string): Promise<string[]> {
    const result = await this.api.kvKeys(pattern === undefined ? {} : { pattern });
    return Array.isArray(result) ? result.map((key: JsonValue) => String(key)) : [];
  }
}
"""


def render_client(model: CodeModel) -> str:
    tables = [e for e in model.entities if not e.view]
    views = [e for e in model.entities if e.view]
    lines = [
        f"// Generated by CinchDB from database {json.dumps(model.database)}, branch"
        f" {json.dumps(model.branch)}, schema {model.schema_hash[:16]}.",
        "// Do not edit: run `cinch codegen generate typescript` again after a schema change.",
        "// A client for `cinch serve`: standard fetch only, no runtime dependencies.",
        "",
    ]
    # A namespace import: a table named like a name of this file (`client`, `table`, `row`)
    # cannot collide with it.
    lines += ['import type * as models from "./models.js";', ""]
    lines += [RUNTIME, *_render_errors(), *_render_api(), _ACCESSORS]
    lines += ["/** The typed accessor of each table. */", "export interface Tables {"]
    for e in tables:
        row = f"models.{e.class_name}"
        lines.append(f"  readonly {_key_name_of(e)}: Table<{row}, {row}Insert, {row}Update,"
                     f" {_key_type(e)}>;")  # fmt: skip
    lines += ["}", "", "/** The typed accessor of each view. */", "export interface Views {"]
    lines += [f"  readonly {_key_name_of(e)}: View<models.{e.class_name}>;" for e in views]
    lines += [
        "}",
        "",
        "/**",
        " * A handle on one database, branch and tenant of a `cinch serve` server:",
        " * `tables.<name>` and `views.<name>` typed, `query`, `kv`, and `api` for every endpoint.",
        " * Errors are thrown as the server's error classes (`TableNotFoundError`, ...), each a",
        " * `CinchError` carrying its `code`.",
        " */",
        "export class Client {",
        "  readonly api: Api;",
        "  readonly tables: Tables;",
        "  readonly views: Views;",
        "  readonly kv: Kv;",
        "",
        "  constructor(readonly options: ClientOptions) {",
        "    this.api = new Api(new Transport(options, ERRORS));",
        "    this.kv = new Kv(this.api);",
        "    this.tables = {",
        *(f"      {_key_name_of(e)}: new Table(this.api, {json.dumps(e.name)})," for e in tables),
        "    };",
        "    this.views = {",
        *(f"      {_key_name_of(e)}: new View(this.api, {json.dumps(e.name)})," for e in views),
        "    };",
        "  }",
        "",
        "  /** The branch head the last response reported (`X-Cinch-Head`). */",
        "  get head(): string | null {",
        "    return this.api.transport.head;",
        "  }",
        "",
        "  /** The same server and key on another tenant. */",
        "  withTenant(tenant: string): Client {",
        "    return new Client({ ...this.options, tenant });",
        "  }",
        "",
        "  /** A read-only statement's rows (`?` parameters in `params`). */",
        "  async query<R = Row>(sql: string, params: readonly Value[] = []): Promise<R[]> {",
        "    const sent = params.map((value: Value) => toWire(value));",
        "    const result = await this.api.query({ sql, params: sent });",
        '    if (!Array.isArray(result)) throw new CinchError("Expected rows from the server");',
        "    return result.map((row: JsonValue) => rowFromWire(row) as R);",
        "  }",
        "}",
        "",
        f"export const SCHEMA_HASH = {json.dumps(model.schema_hash)};",
    ]
    return "\n".join(lines).rstrip() + "\n"


def _key_name_of(entity: Entity) -> str:
    name = entity.name
    return name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else json.dumps(name)
